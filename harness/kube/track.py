"""The kind (cluster) track: workers are real pods, deployed with the real client.

`start()` binds the k8s deployer to the loaded runtime image, runs `gtc op env reconcile <id>
--context <ctx>` (SSA), waits for the rollout and returns a `KindWorker` (a `tracks.PodWorker`).
Bundles come from in-cluster fixtures (`harness.k8s_fixtures`) in the env's namespace. The
cluster is the one the environment selects (`harness.kube.clusters`: kind, the local cluster,
or an existing one). Selected by `--track kind`; `KindBackend` is a `tracks.PodBackend` with
every pod `Capability`, NETWORK_POLICY only where its probe detected enforcement.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from greentic.deployer.k8s import naming
from harness import k8s_fixtures, preflight, tracks
from harness.errors import HarnessError
from harness.kube import clusters
from harness.kube.commands import COMMAND_TIMEOUT_S, Completed, Runner, SubprocessRunner, must
from harness.kube.kubectl import (
    deployments_cmd,
    label_selector,
    newest_pod,
    pods_cmd,
    reset_namespace_cmd,
    rollout_status_cmd,
    running_workloads,
    scheduler_hint,
    scheduling_events_cmd,
)
from harness.kube.portforward import PodForward, PopenProcess, PortForward, Spawn
from harness.kube.providers import Provider, provider_name
from harness.kube.worker import KindWorker
from harness.op import Gtc, operator_env
from harness.registry import registry_pulls
from harness.rendered import (
    ENV_ID,
    PodDistributor,
    bind_deployer_args,
    deployer_answers,
    insecure_from,
    routed_revision,
)
from harness.tracks import Capability

if TYPE_CHECKING:
    from harness.tracks import RunScope

ROLLOUT_TIMEOUT_S = 180
RECONCILE_TIMEOUT_S = 180.0


class KindTrackError(HarnessError):
    """Raised when the kind track cannot do what a scenario asks (with the fix)."""


def reconcile_args(env_id: str, context: str) -> list[str]:
    """`gtc op env reconcile <id> --context <ctx>`: the real client, the only cluster verb."""
    return ["env", "reconcile", env_id, "--context", context]


# -- in-cluster bundle sources ---------------------------------------------------------------


class KindDistributor(PodDistributor["KindBackend"]):
    """The busybox httpd `gtc-bundle-server` in the env's namespace; a changed byte rolls it."""

    error = KindTrackError
    where = "in-cluster"

    def hits(self, name: str) -> int:
        """GETs of `name` logged by the server of the CURRENT rollout (`httpd -vv`).

        Not `logs deployment/…`: kubectl picks the pod Ready longest, which during a rolled
        httpd's termination grace is the OLD server (it never served the new bytes)."""
        log = self.backend.current_logs(k8s_fixtures.BUNDLE_SERVER, "httpd")
        return k8s_fixtures.httpd_hits(log, name)

    def sync(self) -> None:
        """Apply the server with today's bytes (a change rolls it) and wait for it."""
        ns = self.backend.namespace
        self.backend.apply(
            k8s_fixtures.bundle_server(ns, self.served(), image=self.backend.images.busybox)
        )
        self.backend.rollout(k8s_fixtures.BUNDLE_SERVER)


@dataclass
class KindRegistry:
    """`gtc-oci-registry:5000` in the env's namespace; pushes go through a port-forward."""

    backend: KindBackend
    forward: PortForward | None = None
    scheme: str = "oci"

    @property
    def authority(self) -> str:
        """The in-cluster authority (what workers pull from and list as insecure)."""
        return k8s_fixtures.registry_authority(self.backend.namespace)

    def ref(self, repository_tag: str) -> str:
        """`oci://127.0.0.1:<forwarded>/<repo:tag>`: where host-side pushes go."""
        if self.forward is None:
            raise KindTrackError(
                "the kind registry's port-forward is not running"
                "\nHint: use the registry `backend.registry(scope)` returned"
            )
        return f"oci://{self.forward.url().removeprefix('http://')}/{repository_tag}"

    def pulls(self, repository_tag: str) -> int:
        """Blob GETs through the in-cluster authority (the worker's pulls), from the
        registry pod's log; the host's push arrives through the port-forward and is not counted."""
        log = self.backend.current_logs(k8s_fixtures.OCI_REGISTRY, "registry")
        return registry_pulls(log, self.authority, repository_tag)


# -- the backend -----------------------------------------------------------------------------


@dataclass
class Images:
    runtime: str
    busybox: str
    registry: str


@dataclass
class _LocalImages:
    """The local image tags, built on first use (content-hash tags; cached by the builder)."""

    images: Images | None = None

    def get(self) -> Images:
        if self.images is None:
            from harness.docker import images as builder

            built = builder.ensure_all()
            self.images = Images(built.runtime, built.busybox, built.registry)
        return self.images


class KindBackend:
    """Workers as pods on the selected cluster (implements `tracks.PodBackend`).

    The class declares every capability the track can have (a real kubelet: every pod one,
    and NetworkPolicy enforcement where the CNI does it); a built backend's `capabilities`
    hold NETWORK_POLICY only once `confirm` detected it on its cluster."""

    track = "kind"
    capabilities: frozenset[Capability] = tracks.POD_CAPABILITIES | {Capability.NETWORK_POLICY}
    DETECTED: frozenset[Capability] = frozenset({Capability.NETWORK_POLICY})

    def __init__(
        self,
        *,
        runner: Runner | None = None,
        cluster: Provider | None = None,
        images: Images | None = None,
        env_id: str = ENV_ID,
        require: Callable[[str], object] = preflight.require,
        spawn: Spawn = PopenProcess,
    ) -> None:
        options = clusters.cluster_options()  # --kube-context & co, through GTC_* variables
        if cluster is None and provider_name(options) == "kind":
            require("kind")  # stops here, one line per miss, before anything is built or created
        self.runner = runner or SubprocessRunner()
        self.spawn = spawn  # starts `kubectl port-forward` (a fake in unit tests)
        local = _LocalImages(images)
        # an existing cluster is checked reachable (seconds) before any image is built
        self.cluster: Provider = cluster or clusters.session_provider(
            options, runner=self.runner, registry_image=lambda: local.get().registry
        )
        images = local.get()
        # the refs pods name: kind loads the local tags, other clusters pull pushed copies
        self.images = Images(
            runtime=self.cluster.image_ref(images.runtime),
            busybox=self.cluster.image_ref(images.busybox),
            registry=self.cluster.image_ref(images.registry),
        )
        self.env_id = env_id
        self.namespace = self.cluster.namespace_for(env_id)
        self.scope: RunScope | None = None
        self.insecure: list[str] = []
        self._closers: list[Callable[[], None]] = []
        self._ready_ns = False
        self.capabilities = type(self).capabilities - self.DETECTED  # until confirm() sees them

    def confirm(self, needs: Sequence[Capability]) -> str | None:
        """Detect what the scenario needs that only a probe of the cluster can tell (the
        runner asks before `run`); why it is missing (the skip reason), or None."""
        if Capability.NETWORK_POLICY not in needs or Capability.NETWORK_POLICY in self.capabilities:
            return None
        found = self.cluster.enforces_network_policy(self.images.busybox)
        if not found.enforced:
            return (
                f"{Capability.NETWORK_POLICY}: cluster `{self.cluster.context}` does not enforce "
                f"NetworkPolicies (detected: {found.detail})"
            )
        self.capabilities = self.capabilities | {Capability.NETWORK_POLICY}
        return None

    # -- plumbing ----------------------------------------------------------------------------

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT_S,
    ) -> Completed:
        result = self.runner.run(self.cluster.kubectl_argv(*args), timeout=timeout, input=input)
        return must(result) if check else result

    def current_logs(self, app: str, container: str) -> str:
        """The logs of fixture `app`'s newest live pod (the current ReplicaSet's), "" if none."""
        selector = f"app.kubernetes.io/name={app}"
        listed = self.kubectl(*pods_cmd((), self.namespace, selector), check=False)
        pod = newest_pod(json.loads(listed.stdout)) if listed.ok else None
        if pod is None:
            return ""
        name = str(pod["metadata"]["name"])
        result = self.kubectl(
            "-n", self.namespace, "logs", f"pod/{name}", "-c", container, check=False
        )
        return result.stdout + result.stderr if result.ok else ""

    def apply(self, objects: Sequence[Mapping[str, Any]]) -> None:
        self.ensure_namespace()
        self.cluster.apply(objects)

    def rollout(self, deployment: str, timeout_s: int = ROLLOUT_TIMEOUT_S) -> Completed:
        """`rollout status`; a timeout says why when the scheduler did (e.g. Insufficient cpu)."""
        argv = rollout_status_cmd((), self.namespace, deployment, timeout_s)
        result = self.kubectl(*argv, timeout=timeout_s + 30, check=False)
        if result.ok:
            return result
        events = self.kubectl(*scheduling_events_cmd((), self.namespace), check=False)
        return must(result, hint=scheduler_hint(events.stdout) if events.ok else None)

    def port_forward(self, selector: str, port: int, *, quick: bool = False) -> PortForward:
        """A forward to the Ready pod behind `selector` that follows rollouts."""
        return PortForward(
            self.cluster.kubectl_argv(),
            self.namespace,
            selector,
            port,
            runner=self.runner,
            spawn=self.spawn,
            start_timeout=10.0 if quick else 60.0,
        )

    def pod_forward(self, pod: str, port: int) -> PodForward:
        """A forward bound to pod `pod` for good (fails once that pod is gone)."""
        return PodForward(self.cluster.kubectl_argv(), self.namespace, pod, port, spawn=self.spawn)

    def on_close(self, fn: Callable[[], None]) -> None:
        self._closers.append(fn)

    def bind(self, scope: RunScope) -> None:
        """Tie this backend to one run: its artifacts on failure, its cleanup at the end."""
        if self.scope is scope:
            return
        self.scope = scope
        scope.stack.push(self._exit)

    def _exit(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        for fn in reversed(self._closers):
            fn()
        if self.scope is not None:
            # node logs for a failed run: an exception, or a check that failed and was recorded
            # (ScenarioContext.checks) while the scenario went on to return its result
            checks = getattr(self.scope, "checks", ())
            failed = exc is not None or any(not c.ok for c in checks)
            dest = self.scope.artifacts.dir / "kind"
            self.cluster.collect_artifacts(dest, namespaces=[self.namespace], node_logs=failed)
        return False

    def ensure_namespace(self) -> None:
        """A fresh `gtc-<env>` per run: the previous run's objects are deleted first."""
        if self._ready_ns:
            return
        self.kubectl(*reset_namespace_cmd((), self.namespace), timeout=240)
        self.kubectl("create", "namespace", self.namespace)
        marks = [f"{k}={v}" for k, v in sorted(self.cluster.namespace_labels().items())]
        self.kubectl("label", "namespace", self.namespace, *marks, "--overwrite")
        self.cluster.apply(k8s_fixtures.fixture_policies(self.namespace, self.env_id))
        self._ready_ns = True

    def network_policies(self, scope: RunScope) -> list[str]:
        """The names of the NetworkPolicies in the env's namespace right now."""
        self.bind(scope)
        listed = self.kubectl("-n", self.namespace, "get", "networkpolicy", "-o", "name")
        return sorted(line.split("/", 1)[-1] for line in listed.stdout.split())

    def drop_network_policy(self, scope: RunScope, name: str) -> None:
        """Delete one policy of the env's namespace (e.g. a fixture allow that would mask the
        env's own); the namespace is prepared first, so it stays deleted for this run."""
        self.bind(scope)
        self.ensure_namespace()
        self.kubectl("-n", self.namespace, "delete", "networkpolicy", name, "--ignore-not-found")

    def _check_env(self, env_id: str) -> None:
        if env_id != self.env_id:
            raise KindTrackError(
                f"the kind track runs env `{self.env_id}` (namespace {self.namespace}); "
                f"this scenario asked for `{env_id}`\nHint: run it with --track docker or host"
            )

    # -- WorkerBackend -----------------------------------------------------------------------

    def serve_bundles(self, scope: RunScope, directory: Path) -> KindDistributor:
        self.bind(scope)
        return KindDistributor(self)

    def registry(self, scope: RunScope) -> KindRegistry:
        self.bind(scope)
        self.apply(k8s_fixtures.oci_registry(self.namespace, image=self.images.registry))
        self.rollout(k8s_fixtures.OCI_REGISTRY)
        selector = f"app.kubernetes.io/name={k8s_fixtures.OCI_REGISTRY}"
        forward = self.port_forward(selector, k8s_fixtures.OCI_PORT)
        forward.start()
        self.on_close(forward.stop)
        return KindRegistry(self, forward)

    def authority_for(self, source: tracks.AddressedSource) -> str:
        """The in-cluster `host:port` (fixtures live in the env's namespace)."""
        return source.authority

    def bundle_uri_for(self, source: tracks.AddressedSource, name: str) -> str:
        return tracks.bundle_uri(source, name)

    def reconcile(self, scope: RunScope, env_id: str) -> dict[str, Any]:
        """Bind the deployer to the loaded image, then `gtc op env reconcile` into the cluster."""
        self.bind(scope)
        self._check_env(env_id)
        self.ensure_namespace()
        cli = Gtc(
            scope.store_root,
            env=self.cluster.kube_env(operator_env(scope.work_dir)),
            artifacts=scope.artifacts,
            timeout_s=RECONCILE_TIMEOUT_S,
        )
        doc = deployer_answers(self.images.runtime, self.insecure)
        if self.namespace != naming.namespace_for_env(env_id):
            doc["namespace"] = self.namespace  # a per-run namespace on a shared cluster
        answers = scope.artifacts.write_json("answers/kind-deployer.json", doc)
        cli.op(*bind_deployer_args(env_id, answers))
        result: dict[str, Any] = cli.op(*reconcile_args(env_id, self.cluster.context))
        scope.artifacts.append_json("kind-reconcile.jsonl", result)
        return result

    def worker(self, scope: RunScope, env_id: str, revision_id: str) -> KindWorker:
        """The worker pod of one revision (e.g. the earlier one that must keep serving);
        PodBackend."""
        self.bind(scope)
        self._check_env(env_id)
        return KindWorker(self, env_id, revision_id)

    def workloads(self, scope: RunScope, env_id: str) -> list[str]:
        """The env's Deployments that have an available pod right now (PodBackend)."""
        self._check_env(env_id)
        selector = label_selector(naming.env_selector(env_id))
        result = self.kubectl(*deployments_cmd((), self.namespace, selector), check=False)
        return running_workloads(json.loads(result.stdout)) if result.ok else []

    def start(
        self,
        scope: RunScope,
        env_id: str,
        *,
        pod: str = "worker",
        env: dict[str, str] | None = None,
        expect_exit: bool = False,
    ) -> KindWorker:
        """Reconcile, then wait for the routed revision's worker (unless it must fail)."""
        self.insecure = insecure_from(env, self.insecure, track=self.track, error=KindTrackError)
        self.reconcile(scope, env_id)
        doc = json.loads((scope.store_root / env_id / "environment.json").read_text())
        worker = KindWorker(self, env_id, routed_revision(doc), expect_exit=expect_exit)
        if expect_exit:
            worker.wait_started(ROLLOUT_TIMEOUT_S)  # scheduling and init containers are not boot
        else:
            self.rollout(worker.deployment)
        return worker


if TYPE_CHECKING:  # mypy holds the kind worker to the pod protocol the scenarios call

    def _pod_worker(worker: KindWorker) -> tracks.PodWorker:
        return worker
