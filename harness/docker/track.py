"""The docker track: workers are the RENDERED pods, run as Docker containers.

`reconcile()` binds the k8s deployer (answers: the content-hashed runtime image of
harness.docker.images and `oci_insecure_registries`) and runs exactly what `gtc op env
reconcile` runs — `greentic.deployer.k8s.verbs.reconcile_env` — onto this run's DockerCluster
(harness.docker.cluster), whose objects are real pods; `start()` returns the routed
revision's worker pod. Bundle sources are pods too, from harness.k8s_fixtures, applied through
the same cluster: a busybox httpd `gtc-bundle-server:8080` and a registry `gtc-oci-registry:5000`
(pushed to through its published loopback port). Selected by `--track docker`; everything is
labelled with the run id.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from greentic.deployer.k8s import naming, verbs
from greentic.deployer.k8s.bodies import Body
from greentic.store.envstore import Store
from harness import k8s_fixtures, tracks
from harness.docker.cluster import DockerCluster, content, state_path
from harness.docker.pods import DEPLOYMENT_LABEL, NAMESPACE_LABEL, ROLE_LABEL, RUN_LABEL, Pod, Pods
from harness.docker.worker import DockerWorker
from harness.errors import HarnessError
from harness.op import Gtc, operator_env
from harness.registry import registry_pulls
from harness.rendered import (
    ENV_ID,
    K8S_DEPLOYER,
    PodDistributor,
    bind_deployer_args,
    deployer_answers,
    insecure_from,
    newest_revision,
    routed_revision,
)

if TYPE_CHECKING:
    from harness.context import ScenarioContext
    from harness.docker import fakenet
    from harness.docker import images as images_mod

DEPLOYER_ANSWERS = "env-packs/deployer/answers.json"
READY_DEADLINE_S = 90.0
FIXTURE_READY_S = 60.0
FIXTURE_MANAGER = "greentic-harness"  # the field manager of the bundle-source fixtures

_IMAGES: images_mod.Images | None = None
_IMAGES_LOCK = threading.Lock()


class DockerTrackError(HarnessError):
    """Raised when the docker track cannot do what a scenario asks (with the fix)."""


def local_images() -> images_mod.Images:
    """The four local image tags, built once per process (harness.docker.images never pulls)."""
    global _IMAGES
    with _IMAGES_LOCK:
        if _IMAGES is None:
            from harness.docker import images

            _IMAGES = images.ensure_all()
        return _IMAGES


# -- pure helpers ------------------------------------------------------------------------------


def serving_deployment(env_doc: Mapping[str, Any]) -> str:
    """The Deployment a scenario talks to: the newest routed revision's worker; else the
    newest revision that gets a worker (warming/ready/draining); else the router, which
    serves the probes-only banner when nothing is attached."""
    revision = routed_revision(env_doc)
    if revision is None:
        revision = newest_revision(
            r
            for r in env_doc.get("revisions", [])
            if r.get("lifecycle") in ("warming", "ready", "draining")
        )
    return naming.ROUTER if revision is None else naming.worker_name(revision)


def to_yaml(objects: Sequence[Mapping[str, Any]]) -> str:
    return yaml.safe_dump_all([json.loads(json.dumps(o)) for o in objects], sort_keys=False)


# -- bundle sources as pods --------------------------------------------------------------------


class DockerDistributor(PodDistributor["DockerBackend"]):
    """The busybox httpd `gtc-bundle-server` pod; a publish or a tamper changes the pod
    template's digest annotation, so the server pod is replaced with the new bytes."""

    error = DockerTrackError
    where = "in-network"

    def hits(self, name: str) -> int:
        """GETs of `name` logged by the server pod now running (`httpd -vv`)."""
        pod = self.backend.pods.pod(k8s_fixtures.BUNDLE_SERVER)
        return k8s_fixtures.httpd_hits(pod.stdout() + pod.stderr(), name)

    def clear(self) -> None:
        """Serve the real bytes again (counts restart with the replaced pod)."""
        if self.overrides:
            self.overrides.clear()
            self.sync()

    def sync(self) -> None:
        ns = self.backend.namespace
        objects = k8s_fixtures.bundle_server(ns, self.served(), image=self.backend.images.busybox)
        self.backend.apply_fixture(objects)
        self.backend.pods.pod(k8s_fixtures.BUNDLE_SERVER).wait_ready(FIXTURE_READY_S)


@dataclass
class DockerRegistry:
    """The `gtc-oci-registry:5000` pod; the host pushes through its published loopback port."""

    backend: DockerBackend
    pod: Pod
    scheme: str = "oci"

    @property
    def authority(self) -> str:
        """`gtc-oci-registry:5000`: the short alias workers pull from (and list as insecure)."""
        return f"{k8s_fixtures.OCI_REGISTRY}:{k8s_fixtures.OCI_PORT}"

    def ref(self, repository_tag: str) -> str:
        """`oci://127.0.0.1:<published>/<repo:tag>`: where host-side pushes go."""
        return f"oci://127.0.0.1:{self.pod.host_port(k8s_fixtures.OCI_PORT)}/{repository_tag}"

    def pulls(self, repository_tag: str) -> int:
        """Blob GETs of the repository made through the in-network authority (the worker's
        pulls; the host's push goes through the published port and does not count)."""
        return registry_pulls(self.pod.stdout() + self.pod.stderr(), self.authority, repository_tag)


# -- the backend -------------------------------------------------------------------------------


class DockerBackend:
    """Workers as rendered pods on the local Docker engine (implements `PodBackend`)."""

    track = "docker"
    # no local process; the tunnel's fake internet as pods (harness.docker.fakenet)
    capabilities: frozenset[tracks.Capability] = tracks.POD_CAPABILITIES | {
        tracks.Capability.FAKE_INTERNET,
        tracks.Capability.SERVICE_CUT,
    }

    def __init__(self, *, env_id: str = ENV_ID) -> None:
        self.env_id = env_id
        self.namespace = naming.namespace_for_env(env_id)
        self.insecure: list[str] = []
        self.deployer_extra: dict[str, Any] = {}  # answers the fake internet adds (tunnel)
        self._ctx: ScenarioContext | None = None
        self._pods: Pods | None = None
        self._cluster: DockerCluster | None = None
        self._images: images_mod.Images | None = None
        self._reconciles = 0
        self._cut: dict[str, dict[str, Any]] = {}  # Services cut_service deleted, by name

    # -- plumbing ------------------------------------------------------------------------------
    def bind(self, ctx: ScenarioContext) -> None:
        """Tie this backend to one run: images built, pods removed when the run ends."""
        if self._ctx is ctx:
            return
        self._ctx = ctx
        self._images = local_images()
        pods = Pods(
            ctx.run_id,
            work_dir=ctx.work_dir / "pods",
            logs_dir=ctx.artifacts.dir / "pods",
            keep=ctx.keep,
            sandbox_image=self._images.busybox,
        )
        self._pods = ctx.stack.enter_context(pods)
        self._cluster = DockerCluster(self._pods, state_file=state_path(ctx.work_dir / "pods"))
        if ctx.keep:
            ctx.notes.append(
                f"pods kept running (run id {ctx.run_id}); remove them with "
                f"`.venv/bin/python -m harness.docker.pods reap {ctx.run_id}`"
            )

    @property
    def pods(self) -> Pods:
        if self._pods is None:
            raise RuntimeError("the docker backend is not bound to a run (call bind(ctx))")
        return self._pods

    @property
    def cluster(self) -> DockerCluster:
        if self._cluster is None:
            raise RuntimeError("the docker backend is not bound to a run (call bind(ctx))")
        return self._cluster

    def apply_fixture(self, objects: Sequence[Mapping[str, Any]]) -> None:
        """Apply a bundle-source fixture through the cluster (never `managed-by: greentic`, so
        the env's prune leaves it alone) and run its pods."""
        bodies: list[Body] = [json.loads(json.dumps(o)) for o in objects]
        self.cluster.apply(bodies, field_manager=FIXTURE_MANAGER, force=True)
        self.cluster.settle()

    @property
    def images(self) -> images_mod.Images:
        if self._images is None:
            raise RuntimeError("the docker backend is not bound to a run (call bind(ctx))")
        return self._images

    def _check_env(self, env_id: str) -> None:
        if env_id != self.env_id:
            raise DockerTrackError(
                f"the docker track runs env `{self.env_id}` (namespace {self.namespace}, where "
                f"the bundle server and registry live); this scenario asked for `{env_id}`"
                "\nHint: author env `local`, or run it with --track host"
            )

    # -- WorkerBackend -------------------------------------------------------------------------
    def serve_bundles(self, ctx: ScenarioContext, directory: Path) -> DockerDistributor:
        """The in-network httpd; it starts on the first `publish`."""
        self.bind(ctx)
        return DockerDistributor(self)

    def registry(self, ctx: ScenarioContext) -> DockerRegistry:
        self.bind(ctx)
        self.apply_fixture(k8s_fixtures.oci_registry(self.namespace, image=self.images.registry))
        pod = self.pods.pod(k8s_fixtures.OCI_REGISTRY)
        pod.wait_ready(FIXTURE_READY_S)
        return DockerRegistry(self, pod)

    def authority_for(self, source: DockerDistributor | DockerRegistry) -> str:
        return source.authority

    def bundle_uri_for(self, source: DockerDistributor | DockerRegistry, name: str) -> str:
        return tracks.bundle_uri(source, name)

    def start(
        self,
        ctx: ScenarioContext,
        env_id: str,
        *,
        pod: str = "worker",
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
        expect_exit: bool = False,
    ) -> DockerWorker:
        """Reconcile, then the serving pod (see `serving_deployment`), Ready unless it is
        expected to refuse. `pod` is the host track's notion; here each Deployment is one."""
        if args:
            raise DockerTrackError(
                f"the docker track cannot pass {' '.join(args)} to `start`: a pod's args are "
                "rendered from the env\nHint: run this scenario on the host track"
            )
        self.insecure = insecure_from(env, self.insecure, track=self.track, error=DockerTrackError)
        self.reconcile(ctx, env_id)
        doc = json.loads((ctx.store_root / env_id / "environment.json").read_text())
        worker = DockerWorker(self, env_id, serving_deployment(doc))
        if not expect_exit:
            worker.pod.wait_ready(READY_DEADLINE_S)
        return worker

    def cut_service(self, ctx: ScenarioContext, name: str) -> None:
        """`kubectl delete service <name>` (SERVICE_CUT): its pods are re-aliased without it,
        so `<name>` no longer resolves on the pod network until `restore_service`."""
        self.bind(ctx)
        key = next(
            (k for k in self.cluster.objects if k.kind == "Service" and k.name == name),
            None,
        )
        if key is None or key.namespace != self.namespace:
            raise DockerTrackError(
                f"no Service {name} in {self.namespace} to delete"
                "\nHint: start the source first (serve_bundles + publish, or registry)"
            )
        self._cut[name] = content(self.cluster.objects[key])
        self.cluster.delete(key)
        self.cluster.settle()

    def restore_service(self, ctx: ScenarioContext, name: str) -> None:
        """Apply the Service `cut_service` deleted again (its pods get the alias back)."""
        self.bind(ctx)
        if name not in self._cut:
            raise DockerTrackError(
                f"Service {name} was not deleted by cut_service\nHint: cut it first"
            )
        self.apply_fixture([self._cut.pop(name)])

    def fake_internet(
        self, ctx: ScenarioContext, *, tokens: Mapping[str, str]
    ) -> fakenet.DockerFakeInternet:
        """The tunnel's fakes as pods (harness.fakenet.FakeInternetPods); before reconcile."""
        from harness.docker import fakenet  # lazy: image building only when asked

        self.bind(ctx)
        return fakenet.install(self, tokens=tokens)

    # -- the pod-track verbs (shared with the kind backend) ------------------------------------
    def reconcile(self, ctx: ScenarioContext, env_id: str) -> dict[str, Any]:
        """Bind the deployer to the local image, then `verbs.reconcile_env` — the code of
        `gtc op env reconcile` — onto this run's DockerCluster, and run the pods it asks for.
        The product's result (`applied`, `pruned`, `changed`, `objects`, …) plus `pods`: the
        Deployments whose pods were started, replaced or removed."""
        self.bind(ctx)
        self._check_env(env_id)
        self._bind_deployer(ctx, env_id)
        self._reconciles += 1
        result = verbs.reconcile_env(
            Store(ctx.store_root), env_id, connect=lambda _context: self.cluster
        )
        ctx.artifacts.write_text(
            f"rendered/{self._reconciles:02d}-{env_id}.yaml", to_yaml(self.env_objects())
        )
        doc = {**result, "pods": self.cluster.settle().to_json()}
        ctx.artifacts.append_json("docker-reconcile.jsonl", doc)
        return doc

    def env_objects(self) -> list[dict[str, Any]]:
        """What the cluster holds for the env (managed by greentic), as applied (no server
        metadata, no status): the rendered objects of the last reconcile."""
        return [
            content(o)
            for key, o in sorted(self.cluster.objects.items())
            if key.namespace in (None, self.namespace)
            and (o["metadata"].get("labels") or {}).get(naming.MANAGED_BY) == naming.MANAGER
        ]

    def workloads(self, ctx: ScenarioContext, env_id: str) -> list[str]:
        """The env's Deployments that have a running container, as Docker itself lists them."""
        self.bind(ctx)
        self._check_env(env_id)
        labels = {
            RUN_LABEL: ctx.run_id,
            ROLE_LABEL: "main",
            NAMESPACE_LABEL: self.namespace,
            naming.MANAGED_BY: naming.MANAGER,
        }
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        containers = self.pods.api.containers(filters=filters)  # running ones only
        return sorted({str(c["Labels"][DEPLOYMENT_LABEL]) for c in containers})

    def worker(self, ctx: ScenarioContext, env_id: str, revision_id: str) -> DockerWorker:
        """The worker pod of one revision (e.g. the earlier one that must keep serving)."""
        self.bind(ctx)
        return DockerWorker(self, env_id, naming.worker_name(revision_id))

    def _bind_deployer(self, ctx: ScenarioContext, env_id: str) -> None:
        """`op env-packs add slot=deployer …` unless the env is already bound to these answers
        (a re-bind rewrites environment.json, which a running pod would not see anyway)."""
        answers = {**deployer_answers(self.images.runtime, self.insecure), **self.deployer_extra}
        env_dir = ctx.store_root / env_id
        try:
            bound = json.loads((env_dir / DEPLOYER_ANSWERS).read_text())
            doc = json.loads((env_dir / "environment.json").read_text())
            kinds = {p.get("slot"): p.get("kind") for p in doc.get("packs", [])}
        except (OSError, ValueError):
            bound, kinds = None, {}
        if bound == answers and kinds.get("deployer") == K8S_DEPLOYER:
            return
        path = ctx.artifacts.write_json("answers/docker-deployer.json", answers)
        cli = Gtc(ctx.store_root, env=operator_env(ctx.work_dir), artifacts=ctx.artifacts)
        cli.op(*bind_deployer_args(env_id, path))
