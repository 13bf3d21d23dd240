"""One set of reconcile cases against every `Cluster`: FakeCluster, DockerCluster, KubeCluster.

Each case drives `greentic.deployer.k8s.reconcile` (the code of `gtc op env reconcile`) on the
seeds/001-shaped env (14 objects) through the Cluster protocol only, in its own namespace, so
the three implementations must agree: first reconcile creates 14, a second changes nothing,
archive prunes the worker pair (12 applied + 2 pruned), dry_run mutates nothing, delete honours
its labels precondition. DockerCluster (marker `docker`) shares one engine per module and also
checks its pods; KubeCluster (marker `kind`) runs on the cluster track's cluster (kind, or
--kube-context).
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from greentic.deployer.k8s import naming, plan, reconcile, render
from greentic.deployer.k8s.answers import K8sAnswers
from greentic.deployer.k8s.bodies import Body, ref_to
from greentic.deployer.k8s.cluster import Cluster, KubeCluster
from greentic.deployer.k8s.fake import FakeCluster
from greentic.errors import NotFound
from greentic.spec.environment import Environment
from harness.context import new_run_id
from harness.docker import pods as pods_mod
from harness.docker.cluster import DockerCluster, state_path
from tests.unit.deployer.k8s import envs

# Unique per process too: xdist workers share one cluster on the local and existing providers,
# where two `conf1` namespaces would be the same one (a real cluster found this: one worker's
# clean-up terminated the other's namespace mid-test).
_ENV_IDS = (f"conf{secrets.token_hex(3)}{n}" for n in itertools.count(1))


@dataclass
class Target:
    """A Cluster under test, the runtime image its pods use, and how to see its pods."""

    name: str
    cluster: Cluster
    image: str = "ghcr.io/greenticai/greentic-start-distroless:develop"
    pods: Callable[[str], dict[str, str]] = field(default=lambda _ns: {})  # pod → sandbox id
    cleanup: Callable[[str], None] = field(default=lambda _ns: None)


@pytest.fixture(scope="module")
def docker_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    from harness.docker.track import local_images

    images = local_images()
    run_id = new_run_id("test-conformance", "docker")
    work = tmp_path_factory.mktemp("conformance")
    with pods_mod.Pods(
        run_id, work_dir=work / "pods", sandbox_image=images.busybox, poll_s=0.5
    ) as pod_set:
        cluster = DockerCluster(pod_set, state_file=state_path(work))

        def running(ns: str) -> dict[str, str]:
            cluster.settle()
            return {p.name: str(p.sandbox_id) for p in pod_set.pods(namespace=ns)}

        def cleanup(ns: str) -> None:
            cluster.delete(ref_to("Namespace", ns))
            cluster.settle()

        yield Target("docker", cluster, images.runtime, running, cleanup)
    assert pods_mod.reap(run_id) == []


@pytest.fixture(scope="module")
def kube_target() -> Iterator[Target]:
    """The cluster track's cluster (`--kube-context`/`GTC_KUBE_CONTEXT`, else this process's
    kind cluster, as every `-m kind` test gets it), driven through the product's KubeCluster."""
    from harness.docker import images
    from harness.kube import clusters
    from harness.kube.commands import SubprocessRunner

    provider = clusters.session_provider(
        clusters.cluster_options(),
        runner=SubprocessRunner(),
        registry_image=lambda: images.ensure_all().registry,
    )
    kubeconfig = provider.kube_env({})["KUBECONFIG"]
    with KubeCluster.connect(provider.context, kubeconfig=kubeconfig) as cluster:

        def cleanup(ns: str) -> None:
            cluster.delete(ref_to("Namespace", ns))

        yield Target("kube", cluster, cleanup=cleanup)


@pytest.fixture(
    params=[
        pytest.param("fake"),
        pytest.param("docker", marks=[pytest.mark.docker, pytest.mark.timeout(600)]),
        pytest.param("kube", marks=[pytest.mark.kind, pytest.mark.timeout(600)]),
    ]
)
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "fake":
        return Target("fake", FakeCluster())
    found: Target = request.getfixturevalue(f"{request.param}_target")
    return found


@dataclass
class Env:
    """One env of a case: its own id and namespace, rendered for the target's image."""

    target: Target
    env: Environment

    @property
    def env_id(self) -> str:
        return self.env.environment_id

    @property
    def namespace(self) -> str:
        return naming.namespace_for_env(self.env_id)

    @property
    def worker(self) -> str:
        return naming.worker_name(self.env.revisions[0].revision_id)

    def objects(self, env: Environment | None = None) -> list[Body]:
        answers = K8sAnswers(runtime_image=self.target.image)
        return render.objects(env or self.env, answers, dev_store=None)

    def reconcile(self, env: Environment | None = None, **kw: Any) -> dict[str, Any]:
        return reconcile.run(
            self.objects(env), cluster=self.target.cluster, env_id=self.env_id, **kw
        )

    def live(self) -> dict[tuple[str, str], str]:
        """(kind, name) → generation (the resourceVersion where an object has none) of every
        object of the env the cluster holds. A real cluster's controllers write status (a
        Deployment's rollout, a PDB's budget), which moves the resourceVersion but never the
        generation: found on the local cluster, where "no resourceVersion moved" failed."""
        objs = reconcile.live_objects(self.target.cluster, self.namespace)
        return {
            (o["kind"], o["metadata"]["name"]): str(
                o["metadata"].get("generation") or o["metadata"].get("resourceVersion")
            )
            for o in objs
            if o["kind"] != "Namespace" or o["metadata"]["name"] == self.namespace
        }


@pytest.fixture
def env(target: Target) -> Iterator[Env]:
    case = Env(target, envs.m2_env(next(_ENV_IDS)))
    yield case
    target.cleanup(case.namespace)


def test_first_reconcile_creates_the_14_objects(env: Env) -> None:
    result = env.reconcile()
    assert (result["applied"], result["pruned"], result["changed"]) == (14, 0, 14)
    assert {r["action"] for r in result["objects"]} == {"created"}
    live = env.live()
    assert len(live) == 14
    assert ("Deployment", env.worker) in live and ("Deployment", naming.ROUTER) in live
    if env.target.name == "docker":  # the objects are real: one pod per Deployment
        pods = env.target.pods(env.namespace)
        assert sorted(p.rsplit("-", 1)[0] for p in pods) == [naming.ROUTER, env.worker]


def test_a_second_reconcile_changes_nothing(env: Env) -> None:
    env.reconcile()
    before, pods = env.live(), env.target.pods(env.namespace)
    result = env.reconcile()
    assert (result["applied"], result["pruned"], result["changed"]) == (14, 0, 0)
    assert {r["action"] for r in result["objects"]} == {"unchanged"}
    assert env.live() == before  # no generation moved: nothing was written
    assert env.target.pods(env.namespace) == pods  # no pod replaced


def test_archive_prunes_the_worker_pair(env: Env) -> None:
    env.reconcile()
    result = env.reconcile(envs.archived(env.env))
    assert (result["applied"], result["pruned"]) == (12, 2)
    assert result["objects"][-2:] == [
        {"kind": "Deployment", "name": env.worker, "action": "pruned"},
        {"kind": "Service", "name": env.worker, "action": "pruned"},
    ]
    live = env.live()
    assert len(live) == 12 and ("Deployment", env.worker) not in live
    pods = env.target.pods(env.namespace)
    assert not any(p.startswith(env.worker) for p in pods)
    if env.target.name == "docker":
        assert [p.rsplit("-", 1)[0] for p in pods] == [naming.ROUTER]


def test_dry_run_mutates_nothing(env: Env) -> None:
    first = env.reconcile(dry_run=True)
    assert (first["applied"], first["changed"], first["dry_run"]) == (14, 14, True)
    assert env.live() == {} and env.target.pods(env.namespace) == {}
    env.reconcile()
    before, pods = env.live(), env.target.pods(env.namespace)
    again = env.reconcile(envs.archived(env.env), dry_run=True)
    assert (again["applied"], again["pruned"]) == (12, 2)
    assert env.live() == before and env.target.pods(env.namespace) == pods


def test_delete_honours_the_labels_precondition(env: Env) -> None:
    env.reconcile()
    cluster = env.target.cluster
    worker = ref_to("Deployment", env.worker, env.namespace)
    cluster.delete(worker, labels={naming.ENV_LABEL: "someone-else"})
    assert cluster.get(worker)["metadata"]["name"] == env.worker  # still there
    cluster.delete(worker, labels=naming.env_selector(env.env_id), dry_run=True)
    assert cluster.get(worker)["metadata"]["name"] == env.worker  # a dry run deletes nothing
    cluster.delete(worker, labels=naming.env_selector(env.env_id))
    if env.target.name != "kube":  # a real API server deletes in the background
        with pytest.raises(NotFound):
            cluster.get(worker)
        assert ("Deployment", env.worker) not in env.live()
    cluster.delete(ref_to("Deployment", "gtc-no-such", env.namespace))  # absent is fine


def test_the_plan_is_what_the_cluster_sees(env: Env) -> None:
    """Every listed kind round-trips: what plan.LISTED lists is what reconcile applied."""
    env.reconcile()
    kinds = {kind for kind, _ in env.live()}
    assert kinds <= set(plan.LISTED)
    assert {"Namespace", "ConfigMap", "Deployment", "Service", "NetworkPolicy"} <= kinds


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_docker_state_survives_a_new_cluster_object(docker_target: Target, tmp_path: Path) -> None:
    """A second DockerCluster on the same state file sees the objects (a process restart of
    the API server): the next reconcile changes nothing and replaces no pod."""
    cluster = docker_target.cluster
    assert isinstance(cluster, DockerCluster)
    case = Env(docker_target, envs.m2_env(next(_ENV_IDS)))
    try:
        case.reconcile()
        pods = docker_target.pods(case.namespace)
        reborn = DockerCluster(cluster.pods, state_file=cluster.state_file)
        assert reborn.objects == cluster.objects
        result = reconcile.run(case.objects(), cluster=reborn, env_id=case.env_id)
        assert result["changed"] == 0
        assert not reborn.settle().changed
        assert docker_target.pods(case.namespace) == pods
        deployment = reborn.get(ref_to("Deployment", naming.ROUTER, case.namespace))
        fields: list[dict[str, Any]] = deployment["metadata"]["managedFields"]  # type: ignore[typeddict-item]
        assert [m["manager"] for m in fields] == ["greentic-deployer"]
    finally:
        docker_target.cleanup(case.namespace)
