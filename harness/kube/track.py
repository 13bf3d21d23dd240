"""The kind track: workers are real pods on a kind cluster, deployed with the real client.

`start()` binds the k8s deployer to the loaded runtime image, runs `gtc op env reconcile <id>
--context kind-<name>` (SSA), waits for the rollout and returns a `KindWorker` reached through
the self-restarting port-forward and read through `kubectl logs [--previous]`. One cluster per
process, or the kept demo cluster (`$GTC_KIND_CLUSTER`). Selected by `--track kind`.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from greentic.deployer.k8s import naming
from harness import k8s_fixtures, preflight, tracks, waits
from harness.errors import HarnessError
from harness.kube.kind import (
    COMMAND_TIMEOUT_S,
    Completed,
    KindCluster,
    Runner,
    SubprocessRunner,
    cluster_name,
    must,
)
from harness.kube.portforward import PortForward, PortForwardError
from harness.op import Gtc, operator_env
from harness.registry import registry_pulls
from harness.rendered import (
    ENV_ID,
    K8S_DEPLOYER,
    PodDistributor,
    bind_deployer_args,
    deployer_answers,
    insecure_from,
    routed_revision,
)

if TYPE_CHECKING:
    from harness.context import ScenarioContext

CLUSTER_ENV = "GTC_KIND_CLUSTER"  # a kept cluster to use instead of one per process
DEMO_CLUSTER = "gtc-demo"
WORKER_CONTAINER = "worker"
ROUTER = "gtc-router"
ROLLOUT_TIMEOUT_S = 180
STOP_TIMEOUT_S = 60.0
RECONCILE_TIMEOUT_S = 180.0
POLL_S = 1.0
UNREACHABLE = "http://127.0.0.1:9"  # discard port: a refused connection, like a never-Ready pod


T = TypeVar("T")


class KindTrackError(HarnessError):
    """Raised when the kind track cannot do what a scenario asks (with the fix)."""


# -- pure helpers ----------------------------------------------------------------------------


def binds_k8s(env_doc: Mapping[str, Any]) -> bool:
    return any(p.get("kind") == K8S_DEPLOYER for p in env_doc.get("packs", []))


@dataclass(frozen=True)
class ContainerState:
    """What `kubectl get pod -o json` says about one container."""

    running: bool
    ready: bool
    restarts: int
    waiting_reason: str | None
    last_exit_code: int | None


def container_state(pod: Mapping[str, Any], container: str = WORKER_CONTAINER) -> ContainerState:
    statuses = pod.get("status", {}).get("containerStatuses", [])
    status: Mapping[str, Any] = next((c for c in statuses if c.get("name") == container), {})
    state, last = status.get("state", {}), status.get("lastState", {})
    terminated = state.get("terminated") or last.get("terminated") or {}
    code = terminated.get("exitCode")
    return ContainerState(
        running="running" in state,
        ready=bool(status.get("ready")),
        restarts=int(status.get("restartCount", 0)),
        waiting_reason=(state.get("waiting") or {}).get("reason"),
        last_exit_code=int(code) if code is not None else None,
    )


def exited_code(state: ContainerState) -> int | None:
    """The worker's exit code while it is down (crash loop, terminated), else None."""
    return None if state.running else state.last_exit_code


def running_workloads(deployments_json: Mapping[str, Any]) -> list[str]:
    """Deployments with at least one available pod (`kubectl get deployments -o json`)."""
    return sorted(
        str(d["metadata"]["name"])
        for d in deployments_json.get("items", [])
        if int(d.get("status", {}).get("availableReplicas") or 0) >= 1
    )


def newest_pod(pods_json: Mapping[str, Any]) -> Mapping[str, Any] | None:
    pods = [p for p in pods_json.get("items", []) if not p["metadata"].get("deletionTimestamp")]
    pods.sort(key=lambda p: str(p["metadata"].get("creationTimestamp", "")), reverse=True)
    return pods[0] if pods else None


def rollout_status_cmd(
    kubectl: Sequence[str], ns: str, deployment: str, timeout_s: int
) -> list[str]:
    return [
        *kubectl,
        "-n",
        ns,
        "rollout",
        "status",
        f"deployment/{deployment}",
        f"--timeout={timeout_s}s",
    ]


def logs_cmd(
    kubectl: Sequence[str],
    ns: str,
    pod: str,
    *,
    previous: bool = False,
    container: str = WORKER_CONTAINER,
) -> list[str]:
    argv = [*kubectl, "-n", ns, "logs", f"pod/{pod}", "-c", container]
    return [*argv, "--previous"] if previous else argv


def pods_cmd(kubectl: Sequence[str], ns: str, selector: str) -> list[str]:
    return [*kubectl, "-n", ns, "get", "pods", "-l", selector, "-o", "json"]


def sigterm_cmd(
    kubectl: Sequence[str], ns: str, pod: str, container: str = WORKER_CONTAINER
) -> list[str]:
    """SIGTERM to the worker's PID 1 from inside its container (python3 is in the image)."""
    code = "import os, signal; os.kill(1, signal.SIGTERM)"
    return [*kubectl, "-n", ns, "exec", pod, "-c", container, "--", "python3", "-c", code]


def reconcile_args(env_id: str, context: str) -> list[str]:
    """`gtc op env reconcile <id> --context <ctx>`: the real client, the only cluster verb."""
    return ["env", "reconcile", env_id, "--context", context]


def reset_namespace_cmd(kubectl: Sequence[str], ns: str) -> list[str]:
    return [
        *kubectl,
        "delete",
        "namespace",
        ns,
        "--ignore-not-found",
        "--wait=true",
        "--timeout=180s",
    ]


# -- the cluster, one per process ------------------------------------------------------------

_CLUSTERS: dict[str, KindCluster] = {}
_LOADED: set[tuple[str, str]] = set()


def kept_cluster(name: str, *, registry_image: str, runner: Runner) -> KindCluster:
    """The kept cluster `name` (adopted when it exists): `$GTC_KIND_CLUSTER` or the demo's."""
    return KindCluster(
        name,
        run_id=name,
        workdir=Path(tempfile.gettempdir()) / "greentic-kind",
        registry_image=registry_image,
        keep=True,
        reuse=True,
        runner=runner,
    )


def session_cluster(*, runner: Runner, registry_image: str) -> KindCluster:
    """`$GTC_KIND_CLUSTER` (kept, adopted or created), else this process's own cluster."""
    kept = os.environ.get(CLUSTER_ENV)
    key = kept or "process"
    if key in _CLUSTERS:
        return _CLUSTERS[key]
    if kept:
        cluster = kept_cluster(kept, registry_image=registry_image, runner=runner)
    else:
        worker = os.environ.get("PYTEST_XDIST_WORKER", f"p{os.getpid()}")
        run_id = f"{worker}-{secrets.token_hex(2)}"
        work = Path(tempfile.mkdtemp(prefix="greentic-kind-"))
        cluster = KindCluster(
            cluster_name(run_id),
            run_id=run_id,
            workdir=work,
            kubeconfig=work / "kubeconfig",
            registry_image=registry_image,
            runner=runner,
        )
        atexit.register(cluster.delete)
    cluster.create()
    _CLUSTERS[key] = cluster
    return cluster


def close_session_clusters() -> list[str]:
    """Delete this process's own clusters now (pytest session end; atexit is the fallback)."""
    closed = []
    for key, cluster in list(_CLUSTERS.items()):
        if not cluster.keep:
            cluster.delete()
            closed.append(cluster.name)
        del _CLUSTERS[key]
    return closed


def load_once(cluster: KindCluster, tags: Sequence[str]) -> None:
    """`kind load docker-image` each tag once per cluster per process (tags are content hashes)."""
    for tag in tags:
        if (cluster.name, tag) not in _LOADED:
            cluster.load_image(tag)
            _LOADED.add((cluster.name, tag))


# -- in-cluster bundle sources ---------------------------------------------------------------


class KindDistributor(PodDistributor["KindBackend"]):
    """The busybox httpd `gtc-bundle-server` in the env's namespace; a changed byte rolls it."""

    error = KindTrackError
    where = "in-cluster"

    def hits(self, name: str) -> int:
        """GETs of `name` logged by the server pod now running (`httpd -vv`)."""
        result = self.backend.kubectl(
            "-n", self.backend.namespace, "logs", f"deployment/{k8s_fixtures.BUNDLE_SERVER}",
            "-c", "httpd", check=False,
        )  # fmt: skip
        return k8s_fixtures.httpd_hits(result.stdout, name)

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
            raise RuntimeError("the kind registry is not running")
        return f"oci://{self.forward.url().removeprefix('http://')}/{repository_tag}"

    def pulls(self, repository_tag: str) -> int:
        """Blob GETs through the in-cluster authority (the worker's pulls), from the
        registry pod's log; the host's push arrives through the port-forward and is not counted."""
        result = self.backend.kubectl(
            "-n", self.backend.namespace, "logs", f"deployment/{k8s_fixtures.OCI_REGISTRY}",
            "-c", "registry", check=False,
        )  # fmt: skip
        return registry_pulls(result.stdout + result.stderr, self.authority, repository_tag)


# -- the worker ------------------------------------------------------------------------------


@dataclass
class KindWorker:
    """The worker pod of one revision (implements `RunningWorker` over kubectl)."""

    backend: KindBackend
    env_id: str
    revision_id: str | None
    expect_exit: bool = False
    forward: PortForward | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    @property
    def deployment(self) -> str:
        return naming.worker_name(self.revision_id) if self.revision_id else ROUTER

    @property
    def selector(self) -> str:
        if self.revision_id:
            return f"greentic.ai/revision={self.revision_id}"
        labels = naming.common_labels(self.env_id, "router")
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))

    @property
    def container(self) -> str:
        """`worker`, or `router` when nothing is routed and the router serves probes only."""
        return WORKER_CONTAINER if self.revision_id else "router"

    def pod(self) -> Mapping[str, Any] | None:
        result = self.backend.kubectl(
            *pods_cmd((), self.backend.namespace, self.selector), check=False
        )
        return newest_pod(json.loads(result.stdout)) if result.ok else None

    def state(self) -> ContainerState | None:
        pod = self.pod()
        return container_state(pod, self.container) if pod is not None else None

    @property
    def base_url(self) -> str:
        """Through the port-forward; a refusing worker that is not Ready is UNREACHABLE (a
        refused connection, as at a pod that never became Ready) instead of a long wait."""
        if self.forward is None:
            if self.expect_exit:
                state = self.state()
                if state is None or not state.ready:
                    return UNREACHABLE
            pf = self.backend.port_forward(self.selector, 8080, quick=self.expect_exit)
            try:
                pf.start()
            except PortForwardError:
                return UNREACHABLE
            self.forward = pf
            self.backend.on_close(pf.stop)
        return self.forward.url()

    def exit_code(self) -> int | None:
        state = self.state()
        return exited_code(state) if state is not None else None

    def _logs(self, *, previous: bool) -> str:
        pod = self.pod()
        if pod is None:
            return ""
        name = pod["metadata"]["name"]
        argv = logs_cmd(
            (), self.backend.namespace, name, previous=previous, container=self.container
        )
        result = self.backend.kubectl(*argv, check=False)
        return result.stdout if result.ok else ""

    def stdout(self) -> str:
        """The current (or last) container's log: stdout and stderr merged, as kubelet keeps."""
        return self._logs(previous=False)

    def stderr(self) -> str:
        """`kubectl logs --previous` (where a crash loop's refusal is) then the current log."""
        return self._logs(previous=True) + self._logs(previous=False)

    def logs(self) -> str:
        return self.stderr()

    def restarts(self) -> int:
        """How often kubelet restarted the worker container (PodWorker)."""
        state = self.state()
        return state.restarts if state is not None else 0

    def ready(self) -> bool:
        """The pod's readiness probe (`GET /healthz`) passes (PodWorker)."""
        state = self.state()
        return state is not None and state.ready

    def crash_loop_reason(self) -> str | None:
        """`CrashLoopBackOff` while kubelet backs off restarting the worker (kind only)."""
        state = self.state()
        return state.waiting_reason if state is not None else None

    def wait_started(self, deadline_s: float) -> ContainerState:
        """Until the worker container has run at least once (its init containers are done)."""

        def started() -> ContainerState | None:
            state = self.state()
            ran = state is not None and (state.running or state.last_exit_code is not None)
            return state if ran else None

        return self._poll(
            f"worker pod `{self.selector}` to start its container", started, deadline_s
        )

    def _timing(self, deadline_s: float) -> waits.Timing:
        return waits.Timing(timeout=deadline_s, interval=POLL_S, clock=self.clock, sleep=self.sleep)

    @property
    def _describe(self) -> str:
        """The command that shows why the worker's pods are where they are."""
        return f"kubectl -n {self.backend.namespace} describe pods -l {self.selector}"

    def _poll(self, what: str, attempt: Callable[[], T | None], deadline_s: float) -> T:
        """Until `attempt` holds; a timeout names the container state last seen."""
        return waits.Poll(
            what=what,
            attempt=attempt,
            timing=self._timing(deadline_s),
            hint=self._describe,
            status=lambda: str(self.state()),
        ).run()

    def wait_banner(self, regex: str, deadline_s: float) -> re.Match[str]:
        return waits.until_log(
            self,
            regex,
            text=self.stdout,
            timing=self._timing(deadline_s),
            hint=self._describe,
        ).wait()

    def wait_exited(self, deadline_s: float) -> int:
        return waits.until_exit(self, timing=self._timing(deadline_s)).wait()

    def env_file(self, rel: str) -> bytes | None:
        """A file of the pod's own store via `kubectl exec cat`; None if absent or unreachable."""
        pod = self.pod()
        if pod is None:
            return None
        path = f"/var/greentic/.greentic/environments/{self.env_id}/{rel}"
        name = pod["metadata"]["name"]
        argv = [
            "-n",
            self.backend.namespace,
            "exec",
            name,
            "-c",
            self.container,
            "--",
            "cat",
            path,
        ]
        result = self.backend.kubectl(*argv, check=False)
        return result.stdout.encode() if result.ok else None

    def stop(self) -> int | None:
        """SIGTERM to the worker (PID 1) as kubelet would send it; its exit code, read from the
        restarted container's `lastState`. The pod and its emptyDir stay (a container restart,
        like the host track's second boot of the same pod), so it serves again afterwards."""
        pod = self.pod()
        if pod is None:
            return None
        name = pod["metadata"]["name"]
        before = container_state(pod, self.container).restarts
        argv = sigterm_cmd((), self.backend.namespace, name, self.container)
        self.backend.kubectl(*argv, check=False)
        if self.forward is not None:
            self.forward.stop()
            self.forward = None

        def restarted() -> ContainerState | None:
            state = self.state()
            return state if state is not None and state.restarts > before else None

        state = waits.Poll(
            what=f"worker pod {name} to exit on SIGTERM",
            attempt=restarted,
            timing=self._timing(STOP_TIMEOUT_S),
            hint=f"kubectl -n {self.backend.namespace} describe pod {name}",
        ).run()
        return state.last_exit_code

    def previous_logs(self) -> str:
        """`kubectl logs --previous`: the last crashed container's output (kind only)."""
        return self._logs(previous=True)

    def wait_crash_loop(self, deadline_s: float) -> str:
        """Until kubelet reports `CrashLoopBackOff` for the worker (kind only); the reason."""

        def looping() -> str | None:
            reason = self.crash_loop_reason()
            return reason if reason == "CrashLoopBackOff" else None

        return self._poll(
            f"worker `{self.selector}` to enter CrashLoopBackOff", looping, deadline_s
        )


# -- the backend -----------------------------------------------------------------------------


@dataclass
class Images:
    runtime: str
    busybox: str
    registry: str


class KindBackend:
    """Workers as pods on kind (implements `WorkerBackend`)."""

    track = "kind"

    def __init__(
        self,
        *,
        runner: Runner | None = None,
        cluster: KindCluster | None = None,
        images: Images | None = None,
        env_id: str = ENV_ID,
        require: Callable[[str], object] = preflight.require,
    ) -> None:
        require("kind")  # stops here, one line per miss, before anything is built or created
        self.runner = runner or SubprocessRunner()
        if images is None:
            from harness.docker import images as builder

            built = builder.ensure_all()
            images = Images(runtime=built.runtime, busybox=built.busybox, registry=built.registry)
        self.images = images
        self.cluster = cluster or session_cluster(
            runner=self.runner, registry_image=images.registry
        )
        load_once(self.cluster, [images.runtime, images.busybox, images.registry])
        self.env_id = env_id
        self.namespace = naming.namespace_for_env(env_id)
        self.ctx: ScenarioContext | None = None
        self.insecure: list[str] = []
        self._closers: list[Callable[[], None]] = []
        self._ready_ns = False

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

    def apply(self, objects: Sequence[Mapping[str, Any]]) -> None:
        self.ensure_namespace()
        self.cluster.apply(objects)

    def rollout(self, deployment: str, timeout_s: int = ROLLOUT_TIMEOUT_S) -> Completed:
        return self.kubectl(
            *rollout_status_cmd((), self.namespace, deployment, timeout_s), timeout=timeout_s + 30
        )

    def port_forward(self, selector: str, port: int, *, quick: bool = False) -> PortForward:
        return PortForward(
            self.cluster.kubectl_argv(),
            self.namespace,
            selector,
            port,
            runner=self.runner,
            start_timeout=10.0 if quick else 60.0,
        )

    def on_close(self, fn: Callable[[], None]) -> None:
        self._closers.append(fn)

    def bind(self, ctx: ScenarioContext) -> None:
        """Tie this backend to one run: its artifacts on failure, its cleanup at the end."""
        if self.ctx is ctx:
            return
        self.ctx = ctx
        ctx.stack.push(self._exit)

    def _exit(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        for fn in reversed(self._closers):
            fn()
        if self.ctx is not None:
            dest = self.ctx.artifacts.dir / "kind"
            self.cluster.collect_artifacts(
                dest, namespaces=[self.namespace], node_logs=exc is not None
            )
        return False

    def ensure_namespace(self) -> None:
        """A fresh `gtc-<env>` per run: the previous run's objects are deleted first."""
        if self._ready_ns:
            return
        self.kubectl(*reset_namespace_cmd((), self.namespace), timeout=240)
        self.kubectl("create", "namespace", self.namespace)
        self.cluster.apply(k8s_fixtures.fixture_policies(self.namespace, self.env_id))
        self._ready_ns = True

    def _check_env(self, env_id: str) -> None:
        if env_id != self.env_id:
            raise KindTrackError(
                f"the kind track runs env `{self.env_id}` (namespace {self.namespace}); "
                f"this scenario asked for `{env_id}`\nHint: run it with --track docker or host"
            )

    # -- WorkerBackend -----------------------------------------------------------------------

    def serve_bundles(self, ctx: ScenarioContext, directory: Path) -> KindDistributor:
        self.bind(ctx)
        return KindDistributor(self)

    def registry(self, ctx: ScenarioContext) -> KindRegistry:
        self.bind(ctx)
        self.apply(k8s_fixtures.oci_registry(self.namespace, image=self.images.registry))
        self.rollout(k8s_fixtures.OCI_REGISTRY)
        selector = f"app.kubernetes.io/name={k8s_fixtures.OCI_REGISTRY}"
        forward = self.port_forward(selector, k8s_fixtures.OCI_PORT)
        forward.start()
        self.on_close(forward.stop)
        return KindRegistry(self, forward)

    def authority_for(self, source: KindDistributor | KindRegistry) -> str:
        return source.authority

    def bundle_uri_for(self, source: KindDistributor | KindRegistry, name: str) -> str:
        return tracks.bundle_uri(source, name)

    def reconcile(self, ctx: ScenarioContext, env_id: str) -> dict[str, Any]:
        """Bind the deployer to the loaded image, then `gtc op env reconcile` into the cluster."""
        self.bind(ctx)
        self._check_env(env_id)
        self.ensure_namespace()
        cli = Gtc(
            ctx.store_root,
            env=self.cluster.kube_env(operator_env(ctx.work_dir)),
            artifacts=ctx.artifacts,
            timeout_s=RECONCILE_TIMEOUT_S,
        )
        answers = ctx.artifacts.write_json(
            "answers/kind-deployer.json", deployer_answers(self.images.runtime, self.insecure)
        )
        cli.op(*bind_deployer_args(env_id, answers))
        result: dict[str, Any] = cli.op(*reconcile_args(env_id, self.cluster.context))
        ctx.artifacts.append_json("kind-reconcile.jsonl", result)
        return result

    def worker(self, ctx: ScenarioContext, env_id: str, revision_id: str) -> KindWorker:
        """The worker pod of one revision (e.g. the earlier one that must keep serving)."""
        self.bind(ctx)
        self._check_env(env_id)
        return KindWorker(self, env_id, revision_id)

    def workloads(self, ctx: ScenarioContext, env_id: str) -> list[str]:
        """The env's Deployments that have an available pod right now (PodBackend)."""
        self._check_env(env_id)
        labels = naming.env_selector(env_id)
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        result = self.kubectl(
            "-n", self.namespace, "get", "deployments", "-l", selector, "-o", "json", check=False
        )
        return running_workloads(json.loads(result.stdout)) if result.ok else []

    def start(
        self,
        ctx: ScenarioContext,
        env_id: str,
        *,
        pod: str = "worker",
        env: dict[str, str] | None = None,
        expect_exit: bool = False,
    ) -> KindWorker:
        """Reconcile, then wait for the routed revision's worker (unless it must fail)."""
        self.insecure = insecure_from(env, self.insecure, track=self.track, error=KindTrackError)
        self.reconcile(ctx, env_id)
        doc = json.loads((ctx.store_root / env_id / "environment.json").read_text())
        worker = KindWorker(self, env_id, routed_revision(doc), expect_exit=expect_exit)
        if expect_exit:
            worker.wait_started(ROLLOUT_TIMEOUT_S)  # scheduling and init containers are not boot
        else:
            self.rollout(worker.deployment)
        return worker


# -- demo verbs (kind-up / kind-down) --------------------------------------------------------


def demo_cluster_name() -> str:
    """The kept cluster the demo verbs share: `$GTC_KIND_CLUSTER`, else `gtc-demo`."""
    return os.environ.get(CLUSTER_ENV) or DEMO_CLUSTER


def use_demo_cluster() -> str:
    """Make this process's kind scenarios run on the demo cluster (created if absent, kept)."""
    os.environ.setdefault(CLUSTER_ENV, DEMO_CLUSTER)
    return os.environ[CLUSTER_ENV]


def demo_preflight(out: Callable[[str], None]) -> bool:
    """The kind verbs' gate: True when docker, kind and kubectl are there, else print one
    line per miss (with its fix) and the `--track docker` way out, and return False."""
    try:
        preflight.require("kind")
    except preflight.PreflightFailed as exc:
        for finding in exc.failed:
            out(finding.line())
        out(f"next: {exc.hint}")
        return False
    return True


def kind_up(out: Callable[[str], None], *, runner: Runner | None = None) -> int:
    """Create (or adopt) the demo cluster with its local registry and load today's images."""
    if not demo_preflight(out):
        return 1
    from harness.docker import images as builder

    out("building the runtime, busybox and registry images (content-hash tags; cached)")
    built = builder.ensure_all()
    name = use_demo_cluster()
    cluster = kept_cluster(name, registry_image=built.registry, runner=runner or SubprocessRunner())
    out(f"creating kind cluster `{name}` (node image pinned by digest) unless it exists")
    cluster.create()
    for tag in (built.runtime, built.busybox, built.registry):
        out(f"kind load docker-image {tag}")
        cluster.load_image(tag)
    out(f"cluster `{name}` is up: kubectl --context {cluster.context} get nodes")
    out("next: python demo.py kind-serve   (then kind-pull, prune; kind-down deletes it)")
    return 0


def kind_down(out: Callable[[str], None], *, runner: Runner | None = None) -> int:
    """Delete the demo cluster and its registry container (fine when already gone)."""
    if not demo_preflight(out):
        return 1
    name = demo_cluster_name()
    cluster = KindCluster(
        name, run_id=name, workdir=Path(tempfile.gettempdir()), runner=runner or SubprocessRunner()
    )
    if not cluster.exists():
        out(f"no kind cluster `{name}`; nothing to delete")
        cluster.delete()  # its registry container may still be there
        return 0
    cluster.delete()
    out(f"deleted kind cluster `{name}` and its registry")
    return 0
