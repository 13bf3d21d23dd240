"""The kind track backend without a cluster: preflight gating, image loading, reconcile through
the real `gtc op` argv, fixtures applied into a fresh namespace, the PodBackend surface — all
against a scripted kubectl (the worker: test_kind_worker.py; the demo verbs: test_kind_verbs.py)."""

from __future__ import annotations

import contextlib
import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import k8s_fixtures as fx
from harness import rendered, tracks
from harness.artifacts import Artifacts
from harness.context import CheckFailed, ScenarioContext
from harness.kube import kubectl, track
from harness.kube.commands import KindError
from harness.kube.kind import KindCluster, kind_load_cmd
from harness.kube.track import Images, KindBackend, KindTrackError
from harness.kube.worker import KindWorker
from harness.preflight import Finding, PreflightFailed

REV1, REV2 = "01JAAAAAAAAAAAAAAAAAAAAAA1", "01JAAAAAAAAAAAAAAAAAAAAAA2"
IMAGES = Images(
    runtime="greentic-runtime:abc", busybox="busybox:1.36.1", registry="greentic-registry:def"
)
K = ["kubectl", "--context", "kind-gtc-t"]


def env_doc(*, routed: dict[str, int]) -> dict[str, Any]:
    return {
        "environment_id": "local",
        "revisions": [
            {"revision_id": REV1, "sequence": 1},
            {"revision_id": REV2, "sequence": 2},
        ],
        "traffic_splits": [
            {"entries": [{"revision_id": r, "weight_bps": w} for r, w in routed.items()]}
        ],
    }


@pytest.fixture
def backend(cmd: Any, tmp_path: Path) -> KindBackend:
    cluster = KindCluster("gtc-t", run_id="t", workdir=tmp_path, runner=cmd)
    return KindBackend(runner=cmd, cluster=cluster, images=IMAGES, require=lambda t: None)


def context(tmp_path: Path, stack: ExitStack) -> ScenarioContext:
    work = tmp_path / "run"
    (work / "store" / "local").mkdir(parents=True)
    return ScenarioContext(
        name="kind-pull", track="kind", variant=None, run_id="r1",
        artifacts=Artifacts(tmp_path / "art"), work_dir=work, store_root=work / "store",
        keep=False, stack=stack,
    )  # fmt: skip


# -- pure pieces -----------------------------------------------------------------------------


def test_the_worker_is_the_newest_routed_revision() -> None:
    assert rendered.routed_revision(env_doc(routed={REV1: 10_000})) == REV1
    assert rendered.routed_revision(env_doc(routed={REV1: 0, REV2: 10_000})) == REV2
    assert rendered.routed_revision(env_doc(routed={REV1: 5_000, REV2: 5_000})) == REV2
    assert rendered.routed_revision(env_doc(routed={})) is None


def test_deployer_answers_pin_the_loaded_image() -> None:
    assert rendered.deployer_answers("img:1", []) == {
        "runtime_image": "img:1",
        "image_pull_policy": "IfNotPresent",
    }
    assert rendered.deployer_answers("img:1", ["r:5000"])["oci_insecure_registries"] == ["r:5000"]


def test_command_lines_are_exact() -> None:
    assert kubectl.rollout_status_cmd(K, "gtc-local", "gtc-worker-x", 180) == [
        *K, "-n", "gtc-local", "rollout", "status", "deployment/gtc-worker-x", "--timeout=180s",
    ]  # fmt: skip
    assert kubectl.logs_cmd(K, "gtc-local", "p1", previous=True) == [
        *K, "-n", "gtc-local", "logs", "pod/p1", "-c", "worker", "--previous",
    ]  # fmt: skip
    assert track.reconcile_args("local", "kind-gtc-t") == [
        "env", "reconcile", "local", "--context", "kind-gtc-t",
    ]  # fmt: skip


# -- the backend -----------------------------------------------------------------------------


def test_without_kind_the_backend_stops_at_preflight_before_building_anything(cmd: Any) -> None:
    def require(track_name: str) -> None:
        raise PreflightFailed(track_name, [Finding("kind", "fail", "`kind` is not on PATH", "x")])

    with pytest.raises(PreflightFailed, match="--track docker"):
        KindBackend(runner=cmd, require=require)
    assert cmd.calls == []


def test_images_are_loaded_into_the_nodes_once(
    cmd: Any, backend: KindBackend, tmp_path: Path
) -> None:
    assert cmd.argvs() == [
        kind_load_cmd("gtc-t", t) for t in (IMAGES.runtime, IMAGES.busybox, IMAGES.registry)
    ]
    KindBackend(runner=cmd, cluster=backend.cluster, images=IMAGES, require=lambda t: None)
    assert len(cmd.calls) == 3


def test_publishing_resets_the_namespace_then_applies_policies_and_the_server(
    cmd: Any, backend: KindBackend, tmp_path: Path
) -> None:
    bundle = tmp_path / "webchat-bot.gtbundle"
    bundle.write_bytes(b"PK bundle")
    with ExitStack() as stack:
        ctx = context(tmp_path, stack)
        dist = backend.serve_bundles(ctx, tmp_path)
        cmd.calls.clear()
        url = dist.publish(bundle)
        argvs = cmd.argvs()
        calls = list(cmd.calls)
    assert url == "http://gtc-bundle-server.gtc-local.svc.cluster.local:8080/webchat-bot.gtbundle"
    assert backend.bundle_uri_for(dist, "webchat-bot.gtbundle") == url
    assert argvs[0] == [
        *K,
        "delete",
        "namespace",
        "gtc-local",
        "--ignore-not-found",
        "--wait=true",
        "--timeout=180s",
    ]
    assert argvs[1] == [*K, "create", "namespace", "gtc-local"]
    applied = [list(yaml.safe_load_all(c.input)) for c in calls if c.input]
    assert applied[0] == fx.fixture_policies("gtc-local", "local")
    assert applied[1] == fx.bundle_server("gtc-local", {"webchat-bot.gtbundle": b"PK bundle"})
    assert argvs[-1] == [
        *K,
        "-n",
        "gtc-local",
        "rollout",
        "status",
        "deployment/gtc-bundle-server",
        "--timeout=180s",
    ]


def test_tampering_rolls_the_server_with_other_bytes(
    cmd: Any, backend: KindBackend, tmp_path: Path
) -> None:
    bundle = tmp_path / "v2.gtbundle"
    bundle.write_bytes(b"good bytes")
    dist = track.KindDistributor(backend)
    dist.publish(bundle)
    dist.tamper("v2.gtbundle")
    served = dist.served_bytes("v2.gtbundle")
    assert served is not None and served != b"good bytes" and len(served) == len(b"good bytes")
    last = [c for c in cmd.calls if c.input][-1]
    assert fx.bundle_server("gtc-local", {"v2.gtbundle": served}) == list(
        yaml.safe_load_all(last.input)
    )
    with pytest.raises(KindTrackError, match="not published"):
        dist.tamper("other.gtbundle")
    with pytest.raises(KindTrackError, match="the in-cluster httpd cannot inject failures"):
        dist.fail("v2.gtbundle")


def pods_json(*pods: tuple[str, str, bool]) -> str:
    """`kubectl get pods -o json` of (name, creationTimestamp, terminating) pods."""
    items = []
    for name, created, terminating in pods:
        meta: dict[str, Any] = {"name": name, "creationTimestamp": created}
        if terminating:
            meta["deletionTimestamp"] = "2026-01-01T00:05:00Z"
        items.append({"metadata": meta, "status": {"phase": "Running"}})
    return json.dumps({"items": items})


def test_hits_are_read_from_the_current_rollouts_pod_not_the_old_server(
    cmd: Any, backend: KindBackend
) -> None:
    """Issue #14 defect 4: during a rolled httpd's grace the old pod is Ready longest, so
    `logs deployment/…` would read it; the new pod (the one that served the new bytes) counts."""
    selector = "app.kubernetes.io/name=gtc-bundle-server"
    cmd.on(*K, "-n", "gtc-local", "get", "pods", "-l", selector, "-o", "json",
           stdout=pods_json(("srv-old", "2026-01-01T00:00:00Z", True),
                            ("srv-new", "2026-01-01T00:04:00Z", False)))  # fmt: skip
    cmd.on(*K, "-n", "gtc-local", "logs", "pod/srv-old", stdout="")
    cmd.on(*K, "-n", "gtc-local", "logs", "deployment/gtc-bundle-server", stdout="")
    cmd.on(*K, "-n", "gtc-local", "logs", "pod/srv-new", "-c", "httpd",
           stdout="[::ffff:10.244.0.5]:4011: url:/v2.gtbundle\n")  # fmt: skip
    assert track.KindDistributor(backend).hits("v2.gtbundle") == 1


def test_no_server_pod_means_no_hits(cmd: Any, backend: KindBackend) -> None:
    cmd.on(*K, "-n", "gtc-local", "get", "pods", stdout=pods_json())
    assert track.KindDistributor(backend).hits("v2.gtbundle") == 0


def test_registry_pulls_are_read_from_the_registry_log(cmd: Any, backend: KindBackend) -> None:
    authority = "gtc-oci-registry.gtc-local.svc.cluster.local:5000"
    log = (
        f'level=info msg="response completed" http.request.host="{authority}" '
        "http.request.method=GET http.request.uri=/v2/greentic/bot/blobs/sha256:ab\n"
        'level=info msg="response completed" http.request.host="127.0.0.1:40001" '
        "http.request.method=GET http.request.uri=/v2/greentic/bot/blobs/sha256:ab\n"
    )
    cmd.on(*K, "-n", "gtc-local", "get", "pods", stdout=pods_json(("reg-1", "t1", False)))
    cmd.on(*K, "-n", "gtc-local", "logs", "pod/reg-1", "-c", "registry", stdout=log)
    registry = track.KindRegistry(backend)
    assert registry.authority == authority
    assert registry.pulls("greentic/bot:v1") == 1


def test_start_binds_the_deployer_and_reconciles_with_the_real_cli(
    cmd: Any, backend: KindBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ops: list[tuple[str, ...]] = []
    envs: list[dict[str, str]] = []

    class FakeGtc:
        def __init__(self, store_root: Path, *, env: dict[str, str], **_: Any) -> None:
            envs.append(env)

        def op(self, *args: str, answers: Path | None = None) -> Any:
            ops.append(args)
            return {"namespace": "gtc-local", "applied": 14, "pruned": 0}

    monkeypatch.setattr(track, "Gtc", FakeGtc)
    backend.cluster.kubeconfig = tmp_path / "kubeconfig"
    with ExitStack() as stack:
        ctx = context(tmp_path, stack)
        (ctx.store_root / "local" / "environment.json").write_text(
            json.dumps(env_doc(routed={REV1: 10_000}))
        )
        worker = backend.start(
            ctx,
            "local",
            env={"GREENTIC_OCI_INSECURE_REGISTRIES": fx.registry_authority("gtc-local")},
        )
        assert (
            worker.revision_id == REV1
            and worker.deployment == "gtc-worker-01jaaaaaaaaaaaaaaaaaaaaaa1"
        )
    answers = tmp_path / "art" / "answers" / "kind-deployer.json"
    assert ops == [
        ("env-packs", "add", "environment_id=local", "slot=deployer",
         "kind=greentic.deployer.k8s@1.0.0", "pack_ref=builtin", f"answers_ref={answers}"),
        ("env", "reconcile", "local", "--context", "kind-gtc-t"),
    ]  # fmt: skip
    assert json.loads(answers.read_text())["oci_insecure_registries"] == [
        "gtc-oci-registry.gtc-local.svc.cluster.local:5000"
    ]
    assert envs[0]["KUBECONFIG"] == str(tmp_path / "kubeconfig")
    kk = ["kubectl", "--kubeconfig", str(tmp_path / "kubeconfig"), "--context", "kind-gtc-t"]
    assert [
        *kk,
        "-n",
        "gtc-local",
        "rollout",
        "status",
        f"deployment/{worker.deployment}",
        "--timeout=180s",
    ] in cmd.argvs()
    # the run ended: the namespace's evidence was collected (no node logs on a pass)
    assert [*kk, "-n", "gtc-local", "describe", "pods"] in cmd.argvs()
    assert not any(a[:3] == ["kind", "export", "logs"] for a in cmd.argvs())


def test_a_failed_run_also_exports_the_node_logs(
    cmd: Any, backend: KindBackend, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError), ExitStack() as stack:
        backend.serve_bundles(context(tmp_path, stack), tmp_path)
        raise RuntimeError("check failed")
    assert any(a[:3] == ["kind", "export", "logs"] for a in cmd.argvs())
    assert (tmp_path / "art" / "kind" / "commands.tsv").is_file()


def test_a_failed_check_without_an_exception_exports_the_node_logs_too(
    cmd: Any, backend: KindBackend, tmp_path: Path
) -> None:
    """Issue #14 defect 6: a scenario records a failed check and returns its result; the
    run's node logs must be collected all the same."""
    with ExitStack() as stack:
        ctx = context(tmp_path, stack)
        backend.serve_bundles(ctx, tmp_path)
        with contextlib.suppress(CheckFailed):
            ctx.check("served the bundle", False, "0 hits")
    assert any(a[:3] == ["kind", "export", "logs"] for a in cmd.argvs())


def test_a_failed_kind_create_writes_the_node_logs(cmd: Any, tmp_path: Path) -> None:
    cmd.on("kind", "create", "cluster", rc=1, stderr="ERROR: failed to create cluster: boom")
    art = tmp_path / "art"
    kc = KindCluster("gtc-t", run_id="t", workdir=tmp_path, runner=cmd, artifacts=art)
    with pytest.raises(KindError, match="boom") as info:
        kc.create()
    export = ["kind", "export", "logs", str(art / "kind-logs"), "--name", "gtc-t"]
    assert export in cmd.argvs()
    assert (art / "commands.tsv").is_file()
    assert any("kind node logs" in note for note in info.value.__notes__)


def test_a_failed_registry_wiring_writes_the_node_logs(cmd: Any, tmp_path: Path) -> None:
    cmd.on("kind", "get", "nodes", rc=1, stderr="no nodes")
    art = tmp_path / "art"
    kc = KindCluster(
        "gtc-t", run_id="t", workdir=tmp_path, runner=cmd, artifacts=art,
        registry_image="gtc-registry:abc", registry_port=41234,
    )  # fmt: skip
    with pytest.raises(KindError, match="no nodes"):
        kc.create()
    assert ["kind", "export", "logs", str(art / "kind-logs"), "--name", "gtc-t"] in cmd.argvs()


def test_env_vars_other_than_insecure_registries_cannot_reach_a_rendered_pod(
    backend: KindBackend, tmp_path: Path
) -> None:
    with ExitStack() as stack, pytest.raises(KindTrackError, match="--track host"):
        backend.start(context(tmp_path, stack), "local", env={"GTC_FAKE_TELEGRAM": "1"})


def test_another_env_id_is_refused_with_the_fix(backend: KindBackend, tmp_path: Path) -> None:
    with ExitStack() as stack, pytest.raises(KindTrackError, match="runs env `local`"):
        backend.reconcile(context(tmp_path, stack), "prod")


# -- the pod-track surface the pod scenarios use (scenarios/_pods.py) ------------------------


def test_workloads_are_the_envs_deployments_with_an_available_pod(
    cmd: Any, backend: KindBackend, tmp_path: Path
) -> None:
    deployments = {
        "items": [
            {"metadata": {"name": "gtc-router"}, "status": {"availableReplicas": 2}},
            {"metadata": {"name": "gtc-worker-a"}, "status": {"replicas": 1}},
            {"metadata": {"name": "gtc-worker-b"}, "status": {"availableReplicas": 1}},
        ]
    }
    sel = "app.kubernetes.io/managed-by=greentic,greentic.ai/env=local"
    cmd.on(*K, "-n", "gtc-local", "get", "deployments", "-l", sel, stdout=json.dumps(deployments))
    with ExitStack() as stack:
        assert backend.workloads(context(tmp_path, stack), "local") == [
            "gtc-router",
            "gtc-worker-b",
        ]


def test_the_kind_backend_is_a_pod_backend_with_every_pod_capability(
    backend: KindBackend, tmp_path: Path
) -> None:
    """The runner reads `capabilities` off the class (what the track can have); a built
    backend has NETWORK_POLICY only once its probe detected it (test_netpol.py)."""
    network_policy = tracks.Capability.NETWORK_POLICY
    assert KindBackend.capabilities == tracks.POD_CAPABILITIES | {network_policy}
    assert backend.capabilities == tracks.POD_CAPABILITIES
    assert {
        tracks.Capability.RECONCILE,
        tracks.Capability.READINESS,
        tracks.Capability.RESTARTS,
        tracks.Capability.PREVIOUS_LOGS,
        tracks.Capability.PORT_FORWARD,
    } <= KindBackend.capabilities
    assert isinstance(backend, tracks.PodBackend)
    with ExitStack() as stack:
        worker = backend.worker(context(tmp_path, stack), "local", REV1)
    # a PodWorker (isinstance on 3.11 reads base_url: test_kind_worker.py checks it with a pod)
    assert type(worker) is KindWorker and (worker.env_id, worker.revision_id) == ("local", REV1)
