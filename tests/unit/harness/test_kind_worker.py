"""The kind worker pod without a cluster: its state read through a scripted kubectl
(CrashLoopBackOff, `logs --previous`, restarts, Ready), SIGTERM through `kubectl exec`, and the
port-forward bound to one pod (PodWorker.port_forward) against a fake `kubectl port-forward`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness import tracks
from harness.kube import kubectl, portforward
from harness.kube import worker as worker_mod
from harness.kube.commands import Completed
from harness.kube.kind import KindCluster
from harness.kube.portforward import PortForwardError
from harness.kube.track import Images, KindBackend
from harness.kube.worker import EnvFileUnreadable, KindWorker
from tests.support.kubectl_fakes import FakeForward

REV1, REV2 = "01JAAAAAAAAAAAAAAAAAAAAAA1", "01JAAAAAAAAAAAAAAAAAAAAAA2"
IMAGES = Images(
    runtime="greentic-runtime:abc", busybox="busybox:1.36.1", registry="greentic-registry:def"
)
K = ["kubectl", "--context", "kind-gtc-t"]


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
        "status": {
            "phase": "Running",
            "containerStatuses": [status],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def items(argv: tuple[str, ...], pods: Any) -> Any:
    """One answer of `kubectl get pods -o json`: the next pod of a list (the last one sticks)."""
    pod = pods.pop(0) if len(pods) > 1 else pods[0]
    return Completed(argv, 0, json.dumps({"items": [pod]}))


@dataclass
class Forwarder:
    """Spawns `FakeForward`s on local ports 40001, 40002, …; `refuse` makes kubectl exit at once."""

    spawned: list[list[str]] = field(default_factory=list)
    procs: list[FakeForward] = field(default_factory=list)
    refuse: str | None = None

    def __call__(self, argv: Sequence[str]) -> FakeForward:
        self.spawned.append(list(argv))
        if self.refuse is not None:
            proc = FakeForward([], said=self.refuse, exit_code=1)
        else:
            port = 40001 + len(self.procs)
            proc = FakeForward([f"Forwarding from 127.0.0.1:{port} -> 8080\n"])
        self.procs.append(proc)
        return proc


@pytest.fixture
def forwarder() -> Forwarder:
    return Forwarder()


@pytest.fixture
def backend(cmd: Any, tmp_path: Path, forwarder: Forwarder) -> KindBackend:
    cluster = KindCluster("gtc-t", run_id="t", workdir=tmp_path, runner=cmd)
    return KindBackend(
        runner=cmd, cluster=cluster, images=IMAGES, require=lambda t: None, spawn=forwarder
    )


# -- reading the pod ---------------------------------------------------------------------------


def test_container_state_reads_a_crash_loop() -> None:
    looping = kubectl.container_state(
        pod("w", running=False, waiting="CrashLoopBackOff", last_exit=1, restarts=3)
    )
    assert looping == kubectl.ContainerState(False, False, 3, "CrashLoopBackOff", 1)
    assert kubectl.exited_code(looping) == 1
    serving = kubectl.container_state(pod("w", running=True, ready=True, last_exit=1, restarts=1))
    assert kubectl.exited_code(serving) is None  # it crashed once but runs now
    assert kubectl.container_state({"status": {}}) == kubectl.ContainerState(
        False, False, 0, None, None
    )


def test_with_nothing_routed_the_router_is_the_pod_to_talk_to(backend: KindBackend) -> None:
    router = KindWorker(backend, "local", None)
    assert (router.deployment, router.container) == ("gtc-router", "router")
    assert router.selector == (
        "app.kubernetes.io/component=router,app.kubernetes.io/managed-by=greentic,"
        "greentic.ai/env=local"
    )
    worker = KindWorker(backend, "local", REV1)
    assert (worker.deployment, worker.container) == (f"gtc-worker-{REV1.lower()}", "worker")


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
    worker.backend.port_forward = lambda sel, port, quick=False: portforward.PortForward(  # type: ignore[method-assign]
        K,
        "gtc-local",
        sel,
        port,
        runner=cmd,
        clock=fake_clock,
        sleep=fake_clock.sleep,
        start_timeout=3,
    )
    assert worker.base_url == worker_mod.UNREACHABLE


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
    assert kubectl.sigterm_cmd(K, "gtc-local", "w1") in cmd.argvs()
    assert kubectl.sigterm_cmd(K, "gtc-local", "w1")[-3:] == [
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
    assert worker.base_url == worker_mod.UNREACHABLE
    assert not any("port-forward" in a for a in cmd.argvs())


def test_a_recovered_worker_running_before_its_first_readiness_probe_is_waited_for(
    cmd: Any, backend: KindBackend, fake_clock: Any
) -> None:
    """A real kubelet (the local cluster) reports Ready up to a probe period after the banner:
    `base_url` of an expect_exit worker whose container runs waits for Ready, then forwards
    (it returned UNREACHABLE at once, and the recovered /status check failed)."""
    sel = f"greentic.ai/revision={REV2}"
    states = [pod("p", running=True), pod("p", running=True), pod("p", running=True, ready=True)]
    cmd.answer(*K, "-n", "gtc-local", "get", "pods", "-l", sel, fn=lambda a, _: items(a, states))
    worker = KindWorker(
        backend, "local", REV2, expect_exit=True, clock=fake_clock, sleep=fake_clock.sleep
    )

    class Forward:
        def start(self) -> None: ...

        def stop(self) -> None: ...

        def url(self) -> str:
            return "http://127.0.0.1:4242"

    worker.backend.port_forward = lambda sel, port, quick=False: Forward()  # type: ignore[method-assign,assignment,return-value]
    assert worker.base_url == "http://127.0.0.1:4242"


def test_a_running_worker_that_never_gets_ready_is_unreachable_after_the_grace(
    cmd: Any, backend: KindBackend, fake_clock: Any
) -> None:
    cmd.on(
        *K, "-n", "gtc-local", "get", "pods", stdout=json.dumps({"items": [pod("p", running=True)]})
    )
    worker = KindWorker(
        backend, "local", REV2, expect_exit=True, clock=fake_clock, sleep=fake_clock.sleep
    )
    assert worker.base_url == worker_mod.UNREACHABLE
    assert not any("port-forward" in a for a in cmd.argvs())


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
               fn=lambda argv, _: Completed(argv, 0, json.dumps(next(answers))))  # fmt: skip
    worker = KindWorker(
        backend, "local", REV2, expect_exit=True, clock=fake_clock, sleep=fake_clock.sleep
    )
    assert worker.wait_started(60).last_exit_code == 1
    assert fake_clock.slept == [worker_mod.POLL_S, worker_mod.POLL_S]


def test_a_pod_worker_reports_restarts_and_readiness(cmd: Any, backend: KindBackend) -> None:
    serving = pod("p", running=True, ready=True, restarts=2)
    cmd.on(*K, "-n", "gtc-local", "get", "pods", stdout=json.dumps({"items": [serving]}))
    worker = KindWorker(backend, "local", REV1)
    assert (worker.restarts(), worker.ready()) == (2, True)
    cmd.on(*K, "-n", "gtc-local", "get", "pods", stdout=json.dumps({"items": []}))
    assert (worker.restarts(), worker.ready()) == (0, False)


# -- PodWorker.port_forward: bound to one pod --------------------------------------------------


def test_port_forward_is_bound_to_the_pod_running_now_and_ends_with_the_block(
    cmd: Any, backend: KindBackend, forwarder: Forwarder
) -> None:
    sel = f"greentic.ai/revision={REV1}"
    pods = [pod("w1", running=True, ready=True), pod("w2", running=True, ready=True)]
    cmd.answer(*K, "-n", "gtc-local", "get", "pods", "-l", sel, fn=lambda a, _: items(a, pods))
    worker = KindWorker(backend, "local", REV1)
    with worker.port_forward(8080) as base:
        assert base == "http://127.0.0.1:40001"
        assert forwarder.spawned == [kubectl.port_forward_cmd(K, "gtc-local", "w1", 8080)]
        assert not forwarder.procs[0].terminated
        assert worker.pod_name() == "w2"  # a rollout replaced the pod: the forward stays on w1
        assert base == "http://127.0.0.1:40001" and len(forwarder.spawned) == 1
    assert forwarder.procs[0].terminated


def test_port_forward_is_not_restarted_when_its_pod_dies(
    cmd: Any, backend: KindBackend, forwarder: Forwarder
) -> None:
    cmd.on(*K, "-n", "gtc-local", "get", "pods",
           stdout=json.dumps({"items": [pod("w1", running=True, ready=True)]}))  # fmt: skip
    forward = backend.pod_forward("w1", 8080)
    with forward as base:
        forwarder.procs[0].exit_code = 1  # kubectl exits when its pod is deleted
        assert not forward.alive()
        assert forward.url() == base and len(forwarder.spawned) == 1  # no second forward
    assert forward.local_port is None
    with pytest.raises(PortForwardError, match="not running"):
        forward.url()


def test_port_forward_to_a_missing_pod_names_the_selector_and_the_fix(
    cmd: Any, backend: KindBackend, forwarder: Forwarder
) -> None:
    cmd.on(*K, "-n", "gtc-local", "get", "pods", stdout=json.dumps({"items": []}))
    worker = KindWorker(backend, "local", REV2)
    with pytest.raises(PortForwardError) as err, worker.port_forward(8080):
        pytest.fail("the block must not run")
    assert f"no pod of `greentic.ai/revision={REV2}` in `gtc-local`" in err.value.message
    assert err.value.hint == f"kubectl -n gtc-local describe pods -l greentic.ai/revision={REV2}"
    assert forwarder.spawned == []


def test_port_forward_refused_by_kubectl_says_what_kubectl_said(
    cmd: Any, backend: KindBackend, forwarder: Forwarder
) -> None:
    looping = pod("w1", running=False, waiting="CrashLoopBackOff", last_exit=1, restarts=2)
    cmd.on(*K, "-n", "gtc-local", "get", "pods", stdout=json.dumps({"items": [looping]}))
    forwarder.refuse = "error: unable to forward port because pod is not running. Current status=…"
    worker = KindWorker(backend, "local", REV1)
    with (
        pytest.raises(PortForwardError, match="pod is not running") as err,
        worker.port_forward(8080),
    ):
        pytest.fail("the block must not run")
    assert "pod/w1 port 8080 in `gtc-local`" in err.value.message
    assert forwarder.procs[0].terminated


def test_the_kind_worker_is_a_pod_worker(
    cmd: Any, backend: KindBackend, forwarder: Forwarder
) -> None:
    """What scenarios/_pods.py checks. On Python 3.11 `isinstance` reads every protocol member,
    `base_url` included, so it opens the worker's (self-restarting) forward: a Ready pod here."""
    cmd.on(*K, "-n", "gtc-local", "get", "pods",
           stdout=json.dumps({"items": [pod("w1", running=True, ready=True)]}))  # fmt: skip
    worker = KindWorker(backend, "local", REV1)
    assert isinstance(worker, tracks.PodWorker)
    assert forwarder.spawned == [kubectl.port_forward_cmd(K, "gtc-local", "w1", 8080)]
    backend._exit(None, None, None)  # the run's end closes that forward
    assert forwarder.procs[0].terminated


# -- reading the pod's store (issue #14 defect 5) ----------------------------------------------


def crash_looping_worker(cmd: Any, backend: KindBackend) -> KindWorker:
    sel = f"greentic.ai/revision={REV2}"
    looping = pod("gtc-worker-x-1", running=False, waiting="CrashLoopBackOff", last_exit=1)
    cmd.on(*K, "-n", "gtc-local", "get", "pods", "-l", sel, stdout=json.dumps({"items": [looping]}))
    return KindWorker(backend, "local", REV2, expect_exit=True)


STORE = "/var/greentic/.greentic/environments/local"


def test_absent_is_what_cat_says_not_a_failed_exec(cmd: Any, backend: KindBackend) -> None:
    worker = crash_looping_worker(cmd, backend)
    cmd.on(*K, "-n", "gtc-local", "exec", "gtc-worker-x-1", "-c", "worker", "--", "cat",
           f"{STORE}/runtime-config.json", rc=1,
           stderr=f"cat: {STORE}/runtime-config.json: No such file or directory\n")  # fmt: skip
    assert worker.env_file("runtime-config.json") is None


def looping_with_reader(cmd: Any, backend: KindBackend, reader_exit: int | None) -> KindWorker:
    """A crash-looping worker pod (exec finds no container) whose ephemeral reader, once
    started, has terminated with `reader_exit` (None: still running)."""
    sel = f"greentic.ai/revision={REV2}"
    looping = pod("gtc-worker-x-1", running=False, waiting="CrashLoopBackOff", last_exit=1)
    looping["spec"] = {"containers": [{"name": "worker", "image": "greentic-runtime:abc"}]}
    state = {"running": {}} if reader_exit is None else {"terminated": {"exitCode": reader_exit}}
    looping["status"]["ephemeralContainerStatuses"] = [
        {"name": f"read-{n}", "state": state} for n in range(1, 50)
    ]
    cmd.on(*K, "-n", "gtc-local", "get", "pods", "-l", sel, stdout=json.dumps({"items": [looping]}))
    said = 'error: unable to upgrade connection: container not found ("worker")\n'
    cmd.on(*K, "-n", "gtc-local", "exec", rc=1, stderr=said)
    return KindWorker(backend, "local", REV2, expect_exit=True)


def test_a_crash_looping_container_is_read_by_an_ephemeral_container(
    cmd: Any, backend: KindBackend
) -> None:
    """A real kubelet cannot exec into a container that is not running (the local cluster
    found it: digest-mismatch's "no runtime-config.json left" could not be checked)."""
    worker = looping_with_reader(cmd, backend, reader_exit=0)
    cmd.on(*K, "-n", "gtc-local", "logs", stdout='{"a":1}')
    assert worker.env_file("runtime-config.json") == b'{"a":1}'
    debug = next(a for a in cmd.argvs() if "debug" in a)
    assert debug[debug.index("debug") + 1] == "pod/gtc-worker-x-1"
    assert "--profile=restricted" in debug and "--image=greentic-runtime:abc" in debug
    assert debug[-3:] == ["--", "cat", f"{STORE}/runtime-config.json"]
    custom = next(a for a in debug if a.startswith("--custom="))
    assert custom.removeprefix("--custom=").endswith(".json")


def test_absent_through_the_ephemeral_reader_is_what_cat_says(
    cmd: Any, backend: KindBackend
) -> None:
    worker = looping_with_reader(cmd, backend, reader_exit=1)
    said = f"cat: can't open '{STORE}/runtime-config.json': No such file or directory\n"
    cmd.on(*K, "-n", "gtc-local", "logs", stdout=said)
    assert worker.env_file("runtime-config.json") is None


def test_a_crash_looping_container_that_cannot_be_read_is_not_absent(
    cmd: Any, backend: KindBackend
) -> None:
    worker = looping_with_reader(cmd, backend, reader_exit=0)
    cmd.on(
        *K, "-n", "gtc-local", "debug", rc=1, stderr="error: ephemeral containers are disabled\n"
    )
    with pytest.raises(
        EnvFileUnreadable,
        match=r"runtime-config.json in pod gtc-worker-x-1 .*ephemeral containers are disabled",
    ):
        worker.env_file("runtime-config.json")


def test_a_reader_that_never_finishes_is_unreadable(
    cmd: Any, backend: KindBackend, fake_clock: Any
) -> None:
    worker = looping_with_reader(cmd, backend, reader_exit=None)
    worker.clock, worker.sleep = fake_clock, fake_clock.sleep
    with pytest.raises(EnvFileUnreadable, match="did not finish"):
        worker.env_file("runtime-config.json")


def test_no_pod_at_all_is_unreadable_too(cmd: Any, backend: KindBackend) -> None:
    cmd.on(*K, "-n", "gtc-local", "get", "pods", stdout=json.dumps({"items": []}))
    with pytest.raises(EnvFileUnreadable, match="no live pod"):
        KindWorker(backend, "local", REV2).env_file("runtime-config.json")


def test_a_present_file_is_its_bytes(cmd: Any, backend: KindBackend) -> None:
    worker = crash_looping_worker(cmd, backend)
    cmd.on(*K, "-n", "gtc-local", "exec", stdout='{"a":1}')
    assert worker.env_file("runtime-config.json") == b'{"a":1}'


def test_a_rollout_timeout_hint_is_the_schedulers_last_word() -> None:
    cpu = "0/1 nodes are available: 1 Insufficient cpu."
    said = f"0/1 nodes are available: 1 Insufficient memory.\n{cpu}\n"
    assert kubectl.scheduler_hint(said) == f"the scheduler said: {cpu} (see kubectl describe nodes)"
    assert kubectl.scheduler_hint("") is None
