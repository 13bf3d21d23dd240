"""The self-restarting port-forward against a fake kubectl: rollouts, exits, refused
connections and 502s lead to a new forward to the new pod; deadlines are fake-clock time."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from harness.kube import kubectl
from harness.kube import portforward as pfm
from harness.kube.commands import Completed
from harness.kube.portforward import PodForward, PortForward, PortForwardError, Restart
from tests.support.kubectl_fakes import FakeForward

KUBECTL = ["kubectl", "--context", "kind-x"]
NS, SEL = "gtc-local", "greentic.ai/revision=01JREV"
NOT_RUNNING = "error: unable to forward port because pod is not running"


def pod(
    name: str, *, ready: bool = True, created: str = "2026-01-01T00:00:00Z", **meta: Any
) -> Any:
    return {
        "metadata": {"name": name, "creationTimestamp": created, **meta},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


@dataclass
class Kube:
    """The fake cluster: which pods exist, and what each new port-forward prints."""

    pods: list[Any] = field(default_factory=list)
    ports: list[int] = field(
        default_factory=lambda: [40001, 40002, 40003, 40004, 40005, 40006, 40007]
    )
    spawned: list[list[str]] = field(default_factory=list)
    procs: list[FakeForward] = field(default_factory=list)
    silent: bool = False

    def run(
        self, argv: Sequence[str], *, timeout: float, input: str | None = None, env: Any = None
    ) -> Completed:
        assert list(argv) == kubectl.pods_cmd(KUBECTL, NS, SEL)
        return Completed(tuple(argv), 0, json.dumps({"items": self.pods}))

    def spawn(self, argv: Sequence[str]) -> FakeForward:
        self.spawned.append(list(argv))
        if self.silent:
            proc = FakeForward([], said=NOT_RUNNING, exit_code=1)
        else:
            port = self.ports.pop(0)
            proc = FakeForward(
                [
                    f"Forwarding from 127.0.0.1:{port} -> 8080\n",
                    f"Forwarding from [::1]:{port} -> 8080\n",
                ],
                said=NOT_RUNNING,
            )
        self.procs.append(proc)
        return proc


def forward(kube: Kube, fake_clock: Any, **kw: Any) -> PortForward:
    return PortForward(
        KUBECTL,
        NS,
        SEL,
        8080,
        runner=kube,
        spawn=kube.spawn,
        clock=fake_clock,
        sleep=fake_clock.sleep,
        **kw,
    )


# -- pure pieces -----------------------------------------------------------------------------


def test_ready_pods_are_running_ready_not_terminating_newest_first() -> None:
    doc = {
        "items": [
            pod("old", created="2026-01-01T00:00:00Z"),
            pod("new", created="2026-01-01T00:05:00Z"),
            pod("starting", ready=False),
            pod("leaving", deletionTimestamp="2026-01-01T00:06:00Z"),
            {"metadata": {"name": "pending"}, "status": {"phase": "Pending"}},
        ]
    }
    assert kubectl.ready_pods(doc) == ["new", "old"]


def test_parse_forwarding_reads_the_ipv4_line_only() -> None:
    assert pfm.parse_forwarding("Forwarding from 127.0.0.1:40123 -> 8080\n") == 40123
    assert pfm.parse_forwarding("Forwarding from [::1]:40123 -> 8080\n") is None
    assert pfm.parse_forwarding("Handling connection for 40123") is None


@pytest.mark.parametrize(
    ("exit_code", "bound", "live", "reason"),
    [
        (None, "a", ["a"], None),
        (None, "a", ["b", "a"], None),
        (None, "a", ["b"], pfm.POD_GONE),
        (None, "a", [], pfm.POD_GONE),
        (1, "a", ["a"], pfm.PROCESS_EXITED),
        (None, None, ["a"], pfm.PROCESS_EXITED),
    ],
)
def test_restart_reason(
    exit_code: int | None, bound: str | None, live: list[str], reason: str | None
) -> None:
    assert pfm.restart_reason(exit_code=exit_code, bound_pod=bound, live_pods=live) == reason


def test_failure_reason_classifies_outcomes() -> None:
    assert pfm.failure_reason(502) == pfm.BAD_GATEWAY
    assert pfm.failure_reason(200) is None and pfm.failure_reason(500) is None
    assert pfm.failure_reason(ConnectionRefusedError()) == pfm.CONNECTION_FAILED
    assert pfm.failure_reason(httpx.ConnectError("refused")) == pfm.CONNECTION_FAILED
    assert (
        pfm.failure_reason(httpx.RemoteProtocolError("Server disconnected"))
        == pfm.CONNECTION_FAILED
    )
    assert pfm.failure_reason(ValueError("bad json")) is None


def test_port_forward_command_is_exact() -> None:
    assert kubectl.port_forward_cmd(KUBECTL, NS, "p1", 8080) == [
        "kubectl", "--context", "kind-x", "-n", NS, "port-forward", "pod/p1", ":8080",
        "--address", "127.0.0.1",
    ]  # fmt: skip


# -- the forward -----------------------------------------------------------------------------


def test_start_waits_for_a_ready_pod_then_forwards_to_it(fake_clock: Any) -> None:
    kube = Kube()
    polls = iter([[], [pod("w1", ready=False)], [pod("w1")]])

    def run(argv: Sequence[str], **_: Any) -> Completed:
        kube.pods = next(polls, [pod("w1")])
        return Kube.run(kube, argv, timeout=1)

    pf = forward(kube, fake_clock)
    pf.runner = type("R", (), {"run": staticmethod(run)})()
    pf.start()
    assert (pf.pod, pf.local_port) == ("w1", 40001)
    assert kube.spawned == [kubectl.port_forward_cmd(KUBECTL, NS, "w1", 8080)]
    assert fake_clock.slept == [pfm.POLL_S, pfm.POLL_S]
    assert pf.url("/status") == "http://127.0.0.1:40001/status"


def test_start_gives_up_at_the_deadline_naming_selector_and_namespace(fake_clock: Any) -> None:
    pf = forward(Kube(), fake_clock, start_timeout=5)
    with pytest.raises(PortForwardError) as err:
        pf.start()
    assert f"`{SEL}` in `{NS}` within 5s (no Ready pod)" in err.value.message
    assert err.value.hint == f"kubectl -n {NS} get pods -l {SEL}; is it Ready?"
    assert fake_clock.now >= 5


def test_kubectl_exiting_before_forwarding_is_reported(fake_clock: Any) -> None:
    kube = Kube(pods=[pod("w1")], silent=True)
    with pytest.raises(PortForwardError) as err:
        forward(kube, fake_clock, start_timeout=2).start()
    assert "pod/w1 said: error: unable to forward port" in err.value.message


def test_a_rollout_replacing_the_pod_restarts_the_forward(fake_clock: Any) -> None:
    kube = Kube(pods=[pod("w1")])
    with forward(kube, fake_clock) as pf:
        assert pf.url() == "http://127.0.0.1:40001"
        kube.pods = [pod("w2", created="2026-01-01T00:09:00Z")]  # the rollout
        assert pf.url() == "http://127.0.0.1:40002"
        assert pf.restarts == [Restart(pfm.POD_GONE, "w1", "w2")]
        assert kube.procs[0].terminated
    assert kube.procs[1].terminated


def test_a_dead_kubectl_is_restarted_on_the_same_pod(fake_clock: Any) -> None:
    kube = Kube(pods=[pod("w1")])
    pf = forward(kube, fake_clock)
    pf.start()
    kube.procs[0].exit_code = 1  # "lost connection to pod"
    assert pf.url() == "http://127.0.0.1:40002"
    assert pf.restarts == [Restart(pfm.PROCESS_EXITED, "w1", "w1")]


def test_call_retries_after_a_refused_connection(fake_clock: Any) -> None:
    kube = Kube(pods=[pod("w1")])
    seen: list[str] = []

    def fetch(base: str) -> httpx.Response:
        seen.append(base)
        if len(seen) == 1:
            raise httpx.ConnectError("connection refused")
        return httpx.Response(200, text="ok")

    with forward(kube, fake_clock) as pf:
        assert pf.call(fetch).text == "ok"
    assert seen == ["http://127.0.0.1:40001", "http://127.0.0.1:40002"]
    assert [r.reason for r in pf.restarts] == [pfm.CONNECTION_FAILED]


def test_call_retries_after_a_502(fake_clock: Any) -> None:
    kube = Kube(pods=[pod("w1")])
    answers = iter([httpx.Response(502), httpx.Response(200, json={"revisions_active": 1})])
    with forward(kube, fake_clock) as pf:
        assert pf.call(lambda base: next(answers)).json() == {"revisions_active": 1}
    assert [r.reason for r in pf.restarts] == [pfm.BAD_GATEWAY]


def test_call_does_not_retry_other_errors(fake_clock: Any) -> None:
    with forward(Kube(pods=[pod("w1")]), fake_clock) as pf, pytest.raises(ValueError):
        pf.call(lambda base: (_ for _ in ()).throw(ValueError("not json")))
    assert pf.restarts == []


def test_restarts_are_bounded(fake_clock: Any) -> None:
    kube = Kube(pods=[pod("w1")])

    def refused(base: str) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with forward(kube, fake_clock, max_restarts=2) as pf, pytest.raises(httpx.ConnectError):
        pf.call(refused)
    assert len(pf.restarts) == 2
    kube.procs[-1].exit_code = 1
    with pytest.raises(PortForwardError) as err:
        pf.ensure()
    assert "restarted 2 times; giving up (process-exited)" in err.value.message


# -- the forward bound to one pod ------------------------------------------------------------

# stands in for `kubectl port-forward pod/w1 :8080`: serves on a free loopback port, says so
FAKE_KUBECTL = """
import http.server
class Pod(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"served by w1")
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Pod)
print(f"Forwarding from 127.0.0.1:{server.server_port} -> 8080", flush=True)
server.serve_forever()
"""


def test_a_pod_forward_serves_until_its_pod_is_gone_and_is_never_moved() -> None:
    spawned: list[list[str]] = []
    procs: list[pfm.PopenProcess] = []

    def spawn(argv: Sequence[str]) -> pfm.PopenProcess:
        spawned.append(list(argv))
        procs.append(pfm.PopenProcess([sys.executable, "-c", FAKE_KUBECTL]))
        return procs[-1]

    forward = PodForward(KUBECTL, NS, "w1", 8080, spawn=spawn, start_timeout=20)
    with forward as base:
        assert spawned == [kubectl.port_forward_cmd(KUBECTL, NS, "w1", 8080)]
        assert httpx.get(base + "/status", timeout=5).text == "served by w1"
        procs[0].terminate()  # the pod was deleted: kubectl's forward ends with it
        assert not forward.alive()
        with pytest.raises(httpx.ConnectError):
            httpx.get(base + "/status", timeout=5)
        assert forward.url() == base and len(spawned) == 1  # not re-forwarded to another pod


def test_a_pod_forward_that_kubectl_refuses_names_the_pod_and_what_kubectl_said(
    fake_clock: Any,
) -> None:
    kube = Kube(silent=True)
    forward = PodForward(KUBECTL, NS, "w1", 8080, spawn=kube.spawn, clock=fake_clock)
    with pytest.raises(PortForwardError) as err:
        forward.start()
    assert f"pod/w1 port 8080 in `{NS}`" in err.value.message
    assert "unable to forward port because pod is not running" in err.value.message
    assert err.value.hint == f"kubectl -n {NS} describe pod w1; is it Running?"
    assert kube.procs[0].terminated and forward.local_port is None
