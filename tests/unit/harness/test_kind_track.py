"""The kind track backend without a cluster: preflight gating, image loading, reconcile through
the real `gtc op` argv, fixtures applied into a fresh namespace, and the worker read through
kubectl (CrashLoopBackOff, `logs --previous`) — all against a scripted kubectl."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import k8s_fixtures as fx
from harness.artifacts import Artifacts
from harness.context import ScenarioContext
from harness.kube import track
from harness.kube.kind import KindCluster, kind_load_cmd
from harness.kube.track import Images, KindBackend, KindTrackError, KindWorker
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


def pod(name: str, *, running: bool, ready: bool = False, waiting: str | None = None,
        last_exit: int | None = None, restarts: int = 0) -> dict[str, Any]:  # fmt: skip
    state: dict[str, Any] = {"running": {}} if running else {"waiting": {"reason": waiting}}
    status: dict[str, Any] = {
        "name": "worker",
        "state": state,
        "ready": ready,
        "restartCount": restarts,
    }
    if last_exit is not None:
        status["lastState"] = {"terminated": {"exitCode": last_exit}}
    return {
        "metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "status": {"phase": "Running", "containerStatuses": [status]},
    }


def items(argv: tuple[str, ...], pods: Any) -> Any:
    """One answer of `kubectl get pods -o json`: the next pod of a list (the last one sticks)."""
    pod = pods.pop(0) if len(pods) > 1 else pods[0]
    return track.Completed(argv, 0, json.dumps({"items": [pod]}))


@pytest.fixture
def backend(cmd: Any, tmp_path: Path) -> KindBackend:
    cluster = KindCluster("gtc-t", run_id="t", workdir=tmp_path, runner=cmd)
    track._LOADED.clear()
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
    assert track.routed_revision(env_doc(routed={REV1: 10_000})) == REV1
    assert track.routed_revision(env_doc(routed={REV1: 0, REV2: 10_000})) == REV2
    assert track.routed_revision(env_doc(routed={REV1: 5_000, REV2: 5_000})) == REV2
    assert track.routed_revision(env_doc(routed={})) is None


def test_with_nothing_routed_the_router_is_the_pod_to_talk_to(backend: KindBackend) -> None:
    router = KindWorker(backend, "local", None)
    assert (router.deployment, router.container) == ("gtc-router", "router")
    assert router.selector == (
        "app.kubernetes.io/component=router,app.kubernetes.io/managed-by=greentic,"
        "greentic.ai/env=local"
    )
    worker = KindWorker(backend, "local", REV1)
    assert (worker.deployment, worker.container) == (f"gtc-worker-{REV1.lower()}", "worker")


def test_deployer_answers_pin_the_loaded_image() -> None:
    assert track.deployer_answers("img:1", []) == {
        "runtime_image": "img:1",
        "image_pull_policy": "IfNotPresent",
    }
    assert track.deployer_answers("img:1", ["r:5000"])["oci_insecure_registries"] == ["r:5000"]


def test_container_state_reads_a_crash_loop() -> None:
    looping = track.container_state(
        pod("w", running=False, waiting="CrashLoopBackOff", last_exit=1, restarts=3)
    )
    assert looping == track.ContainerState(False, False, 3, "CrashLoopBackOff", 1)
    assert track.exited_code(looping) == 1
    serving = track.container_state(pod("w", running=True, ready=True, last_exit=1, restarts=1))
    assert track.exited_code(serving) is None  # it crashed once but runs now
    assert track.container_state({"status": {}}) == track.ContainerState(
        False, False, 0, None, None
    )


def test_command_lines_are_exact() -> None:
    assert track.rollout_status_cmd(K, "gtc-local", "gtc-worker-x", 180) == [
        *K, "-n", "gtc-local", "rollout", "status", "deployment/gtc-worker-x", "--timeout=180s",
    ]  # fmt: skip
    assert track.logs_cmd(K, "gtc-local", "p1", previous=True) == [
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


def test_hits_are_read_from_the_server_log(cmd: Any, backend: KindBackend) -> None:
    cmd.on(*K, "-n", "gtc-local", "logs", "deployment/gtc-bundle-server",
           stdout="[::ffff:10.244.0.5]:4011: url:/v2.gtbundle\n")  # fmt: skip
    assert track.KindDistributor(backend).hits("v2.gtbundle") == 1


def test_registry_pulls_are_read_from_the_registry_log(cmd: Any, backend: KindBackend) -> None:
    authority = "gtc-oci-registry.gtc-local.svc.cluster.local:5000"
    log = (
        f'level=info msg="response completed" http.request.host="{authority}" '
        "http.request.method=GET http.request.uri=/v2/greentic/bot/blobs/sha256:ab\n"
        'level=info msg="response completed" http.request.host="127.0.0.1:40001" '
        "http.request.method=GET http.request.uri=/v2/greentic/bot/blobs/sha256:ab\n"
    )
    cmd.on(*K, "-n", "gtc-local", "logs", "deployment/gtc-oci-registry", stdout=log)
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


def test_env_vars_other_than_insecure_registries_cannot_reach_a_rendered_pod(
    backend: KindBackend, tmp_path: Path
) -> None:
    with ExitStack() as stack, pytest.raises(KindTrackError, match="--track host"):
        backend.start(context(tmp_path, stack), "local", env={"GTC_FAKE_TELEGRAM": "1"})


def test_another_env_id_is_refused_with_the_fix(backend: KindBackend, tmp_path: Path) -> None:
    with ExitStack() as stack, pytest.raises(KindTrackError, match="runs env `local`"):
        backend.reconcile(context(tmp_path, stack), "prod")


# -- the worker ------------------------------------------------------------------------------


def test_a_crash_looping_worker_shows_its_refusal_from_logs_previous(
    cmd: Any, backend: KindBackend, fake_clock: Any
) -> None:
    sel = f"greentic.ai/revision={REV2}"
    looping = pod(
        "gtc-worker-x-1", running=False, waiting="CrashLoopBackOff", last_exit=1, restarts=2
    )
    cmd.on(*K, "-n", "gtc-local", "get", "pods", "-l", sel, stdout=json.dumps({"items": [looping]}))
    cmd.on(*K, "-n", "gtc-local", "logs", "pod/gtc-worker-x-1", "-c", "worker", "--previous",
           stdout="error: fetch: pulled bundle digest `sha256:aa` does not match …\n")  # fmt: skip
    cmd.on(*K, "-n", "gtc-local", "logs", "pod/gtc-worker-x-1", "-c", "worker", stdout="")
    worker = KindWorker(
        backend, "local", REV2, expect_exit=True, clock=fake_clock, sleep=fake_clock.sleep
    )
    assert worker.exit_code() == 1
    assert worker.crash_loop_reason() == "CrashLoopBackOff"
    assert "does not match" in worker.stderr() and worker.stdout() == ""
    assert worker.wait_exited(30) == 1


def test_a_never_ready_worker_is_unreachable_not_hanging(
    cmd: Any, backend: KindBackend, fake_clock: Any
) -> None:
    cmd.on(*K, "-n", "gtc-local", "get", "pods", stdout=json.dumps({"items": []}))
    worker = KindWorker(backend, "local", REV2, expect_exit=True)
    worker.backend.port_forward = lambda sel, port, quick=False: track.PortForward(  # type: ignore[method-assign]
        K,
        "gtc-local",
        sel,
        port,
        runner=cmd,
        clock=fake_clock,
        sleep=fake_clock.sleep,
        start_timeout=3,
    )
    assert worker.base_url == track.UNREACHABLE


def test_the_banner_is_awaited_in_the_pod_log(
    cmd: Any, backend: KindBackend, fake_clock: Any
) -> None:
    running = pod("gtc-worker-x-1", running=True, ready=True)
    cmd.on(*K, "-n", "gtc-local", "get", "pods", stdout=json.dumps({"items": [running]}))
    banner = "serving 1 revision(s) for env `local` across 1 deployment(s) on http://0.0.0.0:8080\n"
    cmd.on(*K, "-n", "gtc-local", "logs", "pod/gtc-worker-x-1", "-c", "worker", stdout=banner)
    worker = KindWorker(backend, "local", REV1, clock=fake_clock, sleep=fake_clock.sleep)
    assert (
        worker.wait_banner(r"serving 1 revision\(s\) for env `local`", 30)
        .group(0)
        .startswith("serving")
    )
    assert worker.exit_code() is None


def test_stop_sends_sigterm_and_reads_the_exit_code_of_the_restarted_container(
    cmd: Any, backend: KindBackend, fake_clock: Any
) -> None:
    sel = f"greentic.ai/revision={REV1}"
    serving = pod("w1", running=True, ready=True)
    restarted = pod("w1", running=True, ready=False, last_exit=0, restarts=1)
    answers = [serving, serving, restarted]
    cmd.answer(*K, "-n", "gtc-local", "get", "pods", "-l", sel, fn=lambda a, _: items(a, answers))
    worker = KindWorker(backend, "local", REV1, clock=fake_clock, sleep=fake_clock.sleep)
    assert worker.stop() == 0
    assert track.sigterm_cmd(K, "gtc-local", "w1") in cmd.argvs()
    assert track.sigterm_cmd(K, "gtc-local", "w1")[-3:] == [
        "python3", "-c", "import os, signal; os.kill(1, signal.SIGTERM)",
    ]  # fmt: skip


def test_a_refusing_worker_reaches_crash_loop_backoff(
    cmd: Any, backend: KindBackend, fake_clock: Any
) -> None:
    sel = f"greentic.ai/revision={REV2}"
    states = [
        pod("p", running=False, waiting="Error", last_exit=1, restarts=1),
        pod("p", running=False, waiting="CrashLoopBackOff", last_exit=1, restarts=2),
    ]
    cmd.answer(*K, "-n", "gtc-local", "get", "pods", "-l", sel, fn=lambda a, _: items(a, states))
    cmd.on(*K, "-n", "gtc-local", "logs", "pod/p", "-c", "worker", "--previous", stdout="refused\n")
    worker = KindWorker(
        backend, "local", REV2, expect_exit=True, clock=fake_clock, sleep=fake_clock.sleep
    )
    assert worker.wait_crash_loop(60) == "CrashLoopBackOff"
    assert worker.previous_logs() == "refused\n"


def test_a_refusing_worker_that_is_not_ready_is_unreachable_at_once(
    cmd: Any, backend: KindBackend
) -> None:
    looping = pod("p", running=False, waiting="CrashLoopBackOff", last_exit=1, restarts=2)
    cmd.on(*K, "-n", "gtc-local", "get", "pods", stdout=json.dumps({"items": [looping]}))
    worker = KindWorker(backend, "local", REV2, expect_exit=True)
    assert worker.base_url == track.UNREACHABLE
    assert not any("port-forward" in a for a in cmd.argvs())


# -- demo verbs ------------------------------------------------------------------------------


def test_kind_up_without_kind_prints_one_line_per_miss_and_the_docker_track(
    cmd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def require(track_name: str) -> None:
        raise PreflightFailed(
            track_name,
            [
                Finding("kind", "fail", "`kind` is not on PATH", "install kind v0.29.0"),
                Finding("kubectl", "fail", "`kubectl` is not on PATH", "install kubectl"),
            ],
        )

    monkeypatch.setattr(track.preflight, "require", require)
    lines: list[str] = []
    assert track.kind_up(lines.append, runner=cmd) == 1
    assert lines == [
        "✗ kind: `kind` is not on PATH — install kind v0.29.0",
        "✗ kubectl: `kubectl` is not on PATH — install kubectl",
        "next: install what is missing (above), or run this verb with `--track docker` "
        "(same scenario, pods as containers)",
    ]
    assert cmd.calls == []


def test_kind_down_deletes_the_demo_cluster(cmd: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(track.CLUSTER_ENV, "x")
    monkeypatch.delenv(track.CLUSTER_ENV)
    monkeypatch.setattr(track.preflight, "require", lambda t: [])
    cmd.on("kind", "get", "clusters", stdout="gtc-demo\n")
    lines: list[str] = []
    assert track.kind_down(lines.append, runner=cmd) == 0
    assert cmd.argvs()[1:] == [
        ["kind", "delete", "cluster", "--name", "gtc-demo"],
        ["docker", "rm", "-f", "gtc-demo-registry"],
    ]
    assert lines == ["deleted kind cluster `gtc-demo` and its registry"]


def test_demo_verbs_share_one_kept_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(track.CLUSTER_ENV, "x")  # recorded, so teardown restores the original
    monkeypatch.delenv(track.CLUSTER_ENV)
    assert track.demo_cluster_name() == "gtc-demo"
    assert track.use_demo_cluster() == "gtc-demo"
    monkeypatch.setenv(track.CLUSTER_ENV, "mine")
    assert track.use_demo_cluster() == "mine" == track.demo_cluster_name()


def test_wait_started_waits_out_scheduling_and_init_containers(
    cmd: Any, backend: KindBackend, fake_clock: Any
) -> None:
    sel = f"greentic.ai/revision={REV2}"
    initializing = {
        "metadata": {"name": "p", "creationTimestamp": "t"},
        "status": {"phase": "Pending"},
    }
    crashed = pod("p", running=False, waiting="CrashLoopBackOff", last_exit=1, restarts=1)
    answers = iter([{"items": []}, {"items": [initializing]}, {"items": [crashed]}])
    cmd.answer(*K, "-n", "gtc-local", "get", "pods", "-l", sel,
               fn=lambda argv, _: track.Completed(argv, 0, json.dumps(next(answers))))  # fmt: skip
    worker = KindWorker(
        backend, "local", REV2, expect_exit=True, clock=fake_clock, sleep=fake_clock.sleep
    )
    assert worker.wait_started(60).last_exit_code == 1
    assert fake_clock.slept == [track.POLL_S, track.POLL_S]


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


def test_a_pod_worker_reports_restarts_and_readiness(cmd: Any, backend: KindBackend) -> None:
    serving = pod("p", running=True, ready=True, restarts=2)
    cmd.on(*K, "-n", "gtc-local", "get", "pods", stdout=json.dumps({"items": [serving]}))
    worker = KindWorker(backend, "local", REV1)
    assert (worker.restarts(), worker.ready()) == (2, True)
    cmd.on(*K, "-n", "gtc-local", "get", "pods", stdout=json.dumps({"items": []}))
    assert (worker.restarts(), worker.ready()) == (0, False)


def test_the_kind_backend_is_a_pod_backend_for_the_pod_scenarios(backend: KindBackend) -> None:
    """scenarios/_pods.py duck-types these; the docker backend has the same."""
    for verb in ("serve_bundles", "registry", "authority_for", "bundle_uri_for", "start",
                 "reconcile", "workloads", "worker"):  # fmt: skip
        assert callable(getattr(backend, verb))
    worker = KindWorker(backend, "local", REV1)
    for method in ("exit_code", "stdout", "stderr", "logs", "wait_banner", "wait_exited",
                   "env_file", "stop", "restarts", "ready"):  # fmt: skip
        assert callable(getattr(worker, method))


def test_session_clusters_are_deleted_at_session_end_unless_kept(cmd: Any, tmp_path: Path) -> None:
    own = KindCluster("gtc-gw0-ab12", run_id="gw0-ab12", workdir=tmp_path, runner=cmd)
    kept = KindCluster("gtc-demo", run_id="gtc-demo", workdir=tmp_path, runner=cmd, keep=True)
    track._CLUSTERS.update({"process": own, "gtc-demo": kept})
    assert track.close_session_clusters() == ["gtc-gw0-ab12"]
    assert track._CLUSTERS == {}
    assert cmd.argvs() == [
        ["kind", "delete", "cluster", "--name", "gtc-gw0-ab12"],
        ["docker", "rm", "-f", "gtc-gw0-ab12-registry"],
    ]
