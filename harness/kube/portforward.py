"""`kubectl port-forward`, two ways: `PortForward` follows a selector and restarts itself after
a rollout (seeds/000: "port-forward returns 502 after a rollout": kubectl binds ONE pod, and a
rollout replaces that pod); `PodForward` is bound to one pod for good and fails with it (what a
scenario asks of `PodWorker.port_forward`).

The decisions are pure (`restart_reason`, `failure_reason`, `parse_forwarding`); the process and
the kubectl queries come through injected seams (`Spawn`, `commands.Runner`, clock/sleep), so
unit tests drive every branch with fakes. Called by the kind track backend and its worker.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from harness.closing import ExitStops, StopOnExit
from harness.kube.commands import KindError, Runner
from harness.kube.kubectl import pods_cmd, port_forward_cmd, ready_pods
from harness.process import stop_gracefully

T = TypeVar("T")
FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")
START_TIMEOUT_S = 60.0
POLL_S = 0.5
MAX_RESTARTS = 5

# Reasons a forward is restarted; they are recorded for the artifacts and asserted in tests.
PROCESS_EXITED = "process-exited"
POD_GONE = "pod-gone"
CONNECTION_FAILED = "connection-failed"
BAD_GATEWAY = "bad-gateway"


class PortForwardError(KindError):
    """Raised when no Ready pod can be forwarded to before the deadline, or restarts run out."""


# -- pure decisions --------------------------------------------------------------------------


def parse_forwarding(line: str) -> int | None:
    """The local port from kubectl's `Forwarding from 127.0.0.1:<port> -> <remote>` line."""
    match = FORWARDING.search(line)
    return int(match.group(1)) if match else None


def restart_reason(
    *, exit_code: int | None, bound_pod: str | None, live_pods: Sequence[str]
) -> str | None:
    """Why the current forward is stale, or None when it still points at a live Ready pod."""
    if bound_pod is None or exit_code is not None:
        return PROCESS_EXITED
    if bound_pod not in live_pods:
        return POD_GONE
    return None


def failure_reason(outcome: BaseException | int) -> str | None:
    """Classify one request's outcome: a connection error or a 502 means "re-forward"."""
    if isinstance(outcome, int):
        return BAD_GATEWAY if outcome == 502 else None
    if isinstance(outcome, OSError):
        return CONNECTION_FAILED
    name = type(outcome).__name__  # httpx.ConnectError / RemoteProtocolError / ReadError …
    if any(word in name for word in ("Connect", "RemoteProtocol", "ReadError", "Transport")):
        return CONNECTION_FAILED
    return None


# -- the process seam ------------------------------------------------------------------------


class Process(Protocol):
    def poll(self) -> int | None: ...
    def readline(self, timeout: float) -> str | None: ...
    def terminate(self) -> None: ...
    def output(self) -> str: ...


Spawn = Callable[[Sequence[str]], Process]


class PopenProcess:
    """A real child with its merged output read by a thread (readline with a timeout)."""

    def __init__(self, argv: Sequence[str]) -> None:
        self._proc = subprocess.Popen(
            list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)

    def poll(self) -> int | None:
        return self._proc.poll()

    def readline(self, timeout: float) -> str | None:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        self._seen.append(line)
        return line

    def terminate(self) -> None:
        stop_gracefully(self._proc, 5, reap_s=5)

    def output(self) -> str:
        return "".join(self._seen)[-2000:]


def await_port(proc: Process, deadline: float, clock: Callable[[], float]) -> int | None:
    """The local port kubectl reports it forwards from; None when it exits or time runs out."""
    while clock() < deadline:
        line = proc.readline(timeout=POLL_S)
        if line is not None:
            port = parse_forwarding(line)
            if port is not None:
                return port
        elif proc.poll() is not None:
            return None
    return None


# -- the self-restarting forward -------------------------------------------------------------


@dataclass(frozen=True)
class Restart:
    """One restart: why, and which pod the forward moved from and to."""

    reason: str
    old_pod: str | None
    new_pod: str


@dataclass
class PortForward(StopOnExit):
    """A self-healing forward to the Ready pod behind `selector`.

    Example::

        with PortForward(kc.kubectl_argv(), "gtc-local", "greentic.ai/revision=01J…", 8080,
                         runner=kc.runner) as pf:
            status = pf.call(lambda base: httpx.get(base + "/status"))

    `url()` re-checks the forward first; `call(fn)` also retries when `fn` fails to connect or
    answers 502, re-forwarding to the rollout's new pod (at most `max_restarts` times).
    """

    kubectl: Sequence[str]
    namespace: str
    selector: str
    remote_port: int
    runner: Runner
    spawn: Spawn = PopenProcess
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    start_timeout: float = START_TIMEOUT_S
    max_restarts: int = MAX_RESTARTS
    restarts: list[Restart] = field(default_factory=list)
    pod: str | None = field(default=None, init=False)
    local_port: int | None = field(default=None, init=False)
    _proc: Process | None = field(default=None, init=False)

    def live_pods(self) -> list[str]:
        cmd = pods_cmd(self.kubectl, self.namespace, self.selector)
        result = self.runner.run(cmd, timeout=30.0)
        return ready_pods(json.loads(result.stdout)) if result.ok else []

    def start(self) -> None:
        """Wait for a Ready pod, forward to it, and read the local port kubectl picked."""
        deadline = self.clock() + self.start_timeout
        last = "no Ready pod"
        while True:
            pods = self.live_pods()
            if pods:
                proc = self.spawn(
                    port_forward_cmd(self.kubectl, self.namespace, pods[0], self.remote_port)
                )
                port = await_port(proc, deadline, self.clock)
                if port is not None:
                    self._proc, self.pod, self.local_port = proc, pods[0], port
                    return
                last = f"kubectl port-forward to pod/{pods[0]} said: {proc.output().strip()[-300:]}"
                proc.terminate()
            if self.clock() >= deadline:
                raise PortForwardError(
                    f"cannot port-forward to `{self.selector}` in `{self.namespace}` "
                    f"within {self.start_timeout:g}s ({last})",
                    hint=f"kubectl -n {self.namespace} get pods -l {self.selector}; is it Ready?",
                )
            self.sleep(POLL_S)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
        self._proc, self.pod, self.local_port = None, None, None

    def restart(self, reason: str) -> None:
        old = self.pod
        if len(self.restarts) >= self.max_restarts:
            raise PortForwardError(
                f"port-forward to `{self.selector}` restarted {len(self.restarts)} times; "
                f"giving up ({reason})",
                hint=f"kubectl -n {self.namespace} describe pods -l {self.selector}",
            )
        self.stop()
        self.start()
        assert self.pod is not None
        self.restarts.append(Restart(reason, old, self.pod))

    def ensure(self) -> None:
        """Restart when kubectl exited or the bound pod is no longer a live Ready pod."""
        exit_code = self._proc.poll() if self._proc is not None else None
        live = self.live_pods() if exit_code is None and self.pod is not None else []
        reason = restart_reason(exit_code=exit_code, bound_pod=self.pod, live_pods=live)
        if reason is not None:
            self.restart(reason)

    def url(self, path: str = "") -> str:
        self.ensure()
        return f"http://127.0.0.1:{self.local_port}{path}"

    def call(self, fn: Callable[[str], T], *, status: Callable[[T], int] | None = None) -> T:
        """`fn(base_url)`, re-forwarding and retrying on a connection failure or a 502."""
        while True:
            base = self.url()
            try:
                result = fn(base)
            except Exception as exc:
                reason = failure_reason(exc)
                if reason is None or len(self.restarts) >= self.max_restarts:
                    raise
                self.restart(reason)
                continue
            code = status(result) if status is not None else getattr(result, "status_code", 0)
            reason = failure_reason(int(code))
            if reason is None or len(self.restarts) >= self.max_restarts:
                return result
            self.restart(reason)


# -- the forward bound to one pod ------------------------------------------------------------


@dataclass
class PodForward(ExitStops):
    """A forward to ONE pod, never moved: once that pod is gone kubectl exits and requests to
    the local port fail, as a plain `kubectl port-forward pod/<name>` does.

    Example::

        with PodForward(kc.kubectl_argv(), "gtc-local", "gtc-worker-01j…-7d9f", 8080) as base:
            httpx.get(base + "/healthz")
    """

    kubectl: Sequence[str]
    namespace: str
    pod: str
    remote_port: int
    spawn: Spawn = PopenProcess
    clock: Callable[[], float] = time.monotonic
    start_timeout: float = START_TIMEOUT_S
    local_port: int | None = field(default=None, init=False)
    _proc: Process | None = field(default=None, init=False)

    def start(self) -> str:
        """Forward and read the local port kubectl picked; `http://127.0.0.1:<port>`."""
        argv = port_forward_cmd(self.kubectl, self.namespace, self.pod, self.remote_port)
        proc = self.spawn(argv)
        port = await_port(proc, self.clock() + self.start_timeout, self.clock)
        if port is None:
            said = proc.output().strip()[-300:] or "nothing"
            proc.terminate()
            raise PortForwardError(
                f"cannot port-forward to pod/{self.pod} port {self.remote_port} in "
                f"`{self.namespace}` within {self.start_timeout:g}s (kubectl said: {said})",
                hint=f"kubectl -n {self.namespace} describe pod {self.pod}; is it Running?",
            )
        self._proc, self.local_port = proc, port
        return self.url()

    def url(self, path: str = "") -> str:
        if self.local_port is None:
            raise PortForwardError(f"the port-forward to pod/{self.pod} is not running")
        return f"http://127.0.0.1:{self.local_port}{path}"

    def alive(self) -> bool:
        """kubectl is still forwarding (it exits when the pod goes away)."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
        self._proc, self.local_port = None, None

    def __enter__(self) -> str:
        return self.start()
