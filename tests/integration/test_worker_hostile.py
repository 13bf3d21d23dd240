"""Hostile clients against a real `greentic-start` process (issue #12, SPEC §7 "bounded").

Each test starts its own worker on a free loopback port with small limits (environment
variables), so floods stay small: at most a few hundred sockets and a few seconds. Memory is
read from /proc/<pid>/status (VmHWM = peak RSS); descriptors from /proc/<pid>/fd. Every
client here stops by itself; the worker is killed at the end whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from bundle_support import FIXTURES
from test_worker_process import author

GREENTIC_START = str(Path(sys.executable).parent / "greentic-start")
BANNER = re.compile(r"^serving \d+ revision\(s\) .* on (http://\S+)$")
DEADLINE_S = 20.0
NEAR_CAP = 950 * 1024


class HostileWorker:
    """`greentic-start start --env local` on webchat-bot with extra environment variables."""

    def __init__(self, store_root: Path, extra: dict[str, str], *, nofile: int | None = None):
        environ = {
            **os.environ,
            "PORT": "0",
            "GREENTIC_GATEWAY_LISTEN_ADDR": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

        def limit_fds() -> None:
            if nofile is not None:
                import resource

                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(
            [GREENTIC_START, "start", "--env", "local", "--store-root", str(store_root)],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=limit_fds,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        match = BANNER.match(line)
        if match is None:
            self.kill()
            pytest.fail(f"no banner: {line!r} {self.stderr()}")
        self.url = match.group(1)
        host, port = self.url.removeprefix("http://").split(":")
        self.addr = (host, int(port))
        self.log = store_root / "local" / "logs" / "system.log"
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # drain stdout

    def status(self, field: str) -> int:
        """A `VmRSS`/`VmHWM` figure of the worker, in KiB."""
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1))  # type: ignore[union-attr]

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def healthz_ms(self) -> float:
        """How long a fresh connection takes to get `/healthz` 200 (fails the test otherwise)."""
        t0 = time.monotonic()
        with socket.create_connection(self.addr, timeout=5.0) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = read_all(conn, 5.0)
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\nok"), answer
        return (time.monotonic() - t0) * 1000

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def stop(self) -> str:
        """SIGTERM, wait for exit 0; its stderr."""
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=DEADLINE_S) == 0
        return self.stderr()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Prober:
    """Probes `/healthz` every 100 ms in a thread while the block runs; worst latency kept."""

    def __init__(self, worker: HostileWorker) -> None:
        self.worker = worker
        self.times_ms: list[float] = []
        self.failures: list[str] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.done.wait(0.1):
            try:
                self.times_ms.append(self.worker.healthz_ms())
            except (AssertionError, OSError) as exc:
                self.failures.append(repr(exc))

    @property
    def worst_ms(self) -> float:
        return max(self.times_ms, default=0.0)

    def __enter__(self) -> Prober:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.done.set()
        self.thread.join(DEADLINE_S)


Start = Callable[..., HostileWorker]


@pytest.fixture
def start(store_root: Path) -> Iterator[Start]:
    started: list[HostileWorker] = []
    author(store_root, "webchat-bot", uri=(FIXTURES / "webchat-bot.gtbundle").as_uri())

    def go(extra: dict[str, str] | None = None, *, nofile: int | None = None) -> HostileWorker:
        worker = HostileWorker(store_root, extra or {}, nofile=nofile)
        started.append(worker)
        return worker

    yield go
    for worker in started:
        worker.kill()


def connect(addr: tuple[str, int]) -> socket.socket:
    conn = socket.create_connection(addr, timeout=DEADLINE_S)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    return conn


def head(addr: tuple[str, int], length: int, path: str = "/") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {addr[0]}:{addr[1]}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()


def send_quietly(conn: socket.socket, data: bytes) -> None:
    """sendall, where a worker that answered 503 and closed mid-body is fine."""
    with contextlib.suppress(OSError):
        conn.sendall(data)


def read_all(conn: socket.socket, deadline_s: float) -> bytes:
    """What the worker sends until it closes (or the deadline passes)."""
    conn.settimeout(deadline_s)
    data = b""
    try:
        while chunk := conn.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def status_line(data: bytes) -> str:
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def test_a_flood_of_near_cap_bodies_stays_inside_the_body_budget(start: Start) -> None:
    """Finding 1: 200 bodies of 950 KB held open (all but the last byte sent). Before: every
    body was buffered (~190 MiB here, 1.1 GiB with 1,200). Now: a 32 MiB budget admits ~34
    and the rest get 503 + Retry-After at once; peak RSS grows by well under 100 MiB, and
    once the bodies are answered the heap goes back (before: ~500 MiB stayed)."""
    worker = start(
        {"GREENTIC_WORKER_BODY_BUDGET_MIB": "32", "GREENTIC_WORKER_BODY_TIMEOUT_S": "20"}
    )
    base = worker.status("VmRSS")
    body = json.dumps({"text": "x" * (NEAR_CAP - 12)}).encode()
    conns = [connect(worker.addr) for _ in range(200)]
    senders = [
        threading.Thread(target=send_quietly, args=(c, head(worker.addr, len(body)) + body[:-1]))
        for c in conns
    ]
    with Prober(worker) as probes:
        for t in senders:
            t.start()
        for t in senders:
            t.join(DEADLINE_S)
        time.sleep(0.5)  # let the worker read what it admitted
    held_kib = worker.status("VmHWM") - base
    for c in conns:
        with contextlib.suppress(OSError):
            c.sendall(body[-1:])
    answers = [status_line(read_all(c, 10.0)[:64]) for c in conns]
    for c in conns:
        c.close()
    served = answers.count("HTTP/1.1 200 OK")
    refused = answers.count("HTTP/1.1 503 Service Unavailable")
    print(
        f"peak RSS growth {held_kib // 1024} MiB; {served} served, {refused} refused (503); "
        f"/healthz worst {probes.worst_ms:.0f} ms over {len(probes.times_ms)} probes"
    )
    assert probes.worst_ms < 3000 and not probes.failures, probes.failures
    assert held_kib < 100 * 1024, f"peak RSS grew by {held_kib // 1024} MiB"
    assert served >= 20 and refused >= 100 and served + refused == 200, answers
    deadline = time.monotonic() + 12  # the worker trims its heap every 5 s after a burst
    # Measured: ~3 MiB once the trim collects the refused requests' cycles, ~23 MiB without.
    while (after := worker.status("VmRSS") - base) > 12 * 1024 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert after < 12 * 1024, f"RSS stayed {after // 1024} MiB above the start"
    assert "Traceback" not in worker.stop()


def test_slow_heads_and_trickled_bodies_are_cut_off(start: Start) -> None:
    """Finding 2: a head never finished, a body a byte at a time, a silent socket: all get a
    408 (or are closed) within the configured timeouts instead of holding on forever."""
    worker = start(
        {"GREENTIC_WORKER_HEADER_TIMEOUT_S": "1", "GREENTIC_WORKER_BODY_TIMEOUT_S": "1.5"}
    )
    t0 = time.monotonic()
    partial = connect(worker.addr)
    partial.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    silent = connect(worker.addr)
    trickle = connect(worker.addr)
    trickle.sendall(head(worker.addr, 100))
    stop = threading.Event()

    def drip() -> None:
        while not stop.wait(0.3):
            try:
                trickle.sendall(b" ")
            except OSError:
                return

    threading.Thread(target=drip, daemon=True).start()
    try:
        got_partial = read_all(partial, 6.0)
        got_silent = read_all(silent, 6.0)
        got_trickle = read_all(trickle, 6.0)
    finally:
        stop.set()
    elapsed = time.monotonic() - t0
    assert status_line(got_partial) == "HTTP/1.1 408 Request Timeout", got_partial
    assert got_partial.endswith(b"request head not received in time")
    assert got_silent == b""  # closed without a word: it never said anything either
    assert status_line(got_trickle) == "HTTP/1.1 408 Request Timeout", got_trickle
    assert got_trickle.endswith(b"request body not received in time")
    assert elapsed < 5.0, elapsed
    for c in (partial, silent, trickle):
        c.close()
    assert worker.healthz_ms() < 2000
    assert "Traceback" not in worker.stop()


def test_idle_connection_flood_under_a_low_fd_limit_keeps_probes_answering(start: Start) -> None:
    """Finding 2: with 256 descriptors, 300 idle connections made /healthz time out and the
    worker log `Too many open files`. Now the longest-idle connection is evicted for a new
    one, the worker stays under its descriptor limit and probes answer at once."""
    worker = start({"GREENTIC_WORKER_HEADER_TIMEOUT_S": "30"}, nofile=256)
    conns: list[socket.socket] = []
    for i in range(300):
        c = connect(worker.addr)
        if i % 2:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHo")  # half a head
        conns.append(c)
    time.sleep(0.3)
    worst = max(worker.healthz_ms() for _ in range(10))
    fds = worker.open_fds()
    for c in conns:
        c.close()
    print(f"worst /healthz {worst:.0f} ms with 300 idle sockets; worker fds {fds}")
    assert worst < 1000
    assert fds < 256
    err = worker.stop()
    assert "Too many open files" not in err and "Traceback" not in err, err


def test_requests_past_the_in_flight_limit_get_503_with_retry_after(start: Start) -> None:
    worker = start({"GREENTIC_WORKER_MAX_IN_FLIGHT": "4", "GREENTIC_WORKER_RETRY_AFTER_S": "3"})
    holding = [connect(worker.addr) for _ in range(4)]
    first, rest = b'{"text":', b' "abcdefghi"}'
    for c in holding:
        c.sendall(head(worker.addr, len(first + rest)) + first)  # unfinished: stays in flight
    time.sleep(0.3)
    r = httpx.post(f"{worker.url}/", json={"text": "hi"}, timeout=5.0)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "3"
    assert "in flight" in r.text
    assert worker.healthz_ms() < 1000  # probes bypass the in-flight limit
    for c in holding:
        c.sendall(rest)
        assert status_line(read_all(c, 0.5)) == "HTTP/1.1 200 OK"
        c.close()
    assert httpx.post(f"{worker.url}/", json={"text": "hi"}).status_code == 200
    worker.stop()


def test_client_mistakes_are_4xx_and_leave_no_trace_on_stderr(start: Start) -> None:
    """Finding 4 on a real process: each mistake is a 4xx with a clear body; the next caller
    is served normally; stderr has no traceback and the system log no error."""
    worker = start()
    cases = [
        (b'{"text":"\\ud800"}', 400, "lone surrogate"),
        (b'{"text":"' + b"\xed\xa0\x80" + b'"}', 400, "UTF-8"),
        (b"[" * 1000 + b"]" * 1000, 400, "nested deeper than 64"),
        (b'{"a":' * 100 + b"1" + b"}" * 100, 400, "nested deeper than 64"),
        (b'{"text": tru', 400, "must be JSON"),
        (b"x" * (1024 * 1024 + 1), 413, "size limit"),
    ]
    for body, code, words in cases:
        r = httpx.post(f"{worker.url}/", content=body, timeout=5.0)
        assert (r.status_code, words in r.text) == (code, True), (body[:20], r.text)
        ok = httpx.post(f"{worker.url}/", json={"text": "next"})
        assert ok.status_code == 200, ok.text
    with connect(worker.addr) as conn:  # a head growing past 16 KiB before it is complete
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ")
        with contextlib.suppress(OSError):
            for _ in range(8):
                conn.sendall(b"y" * 4096)
                time.sleep(0.02)
        answer = read_all(conn, 5.0)
        assert status_line(answer) == "HTTP/1.1 431 Request Header Fields Too Large", answer
        assert answer.endswith(b"request head is larger than 16 KiB")
    err = worker.stop()
    assert "Traceback" not in err and err.strip() == "", err
    assert " ERROR " not in worker.log.read_text()


def test_rebinding_headers_are_refused_by_a_real_worker(start: Start) -> None:
    """Finding 3 over a socket: a rebinding page's invoke is refused; the console answers a
    port-forward (any loopback Host port)."""
    worker = start()
    invoke = json.dumps({"tenant": {"tenant_id": "tenant-default"}, "payload": {"text": "x"}})
    hostile = {
        "host": "rebind.attacker.example",
        "origin": "http://rebind.attacker.example",
        "content-type": "text/plain",
    }
    r = httpx.post(f"{worker.url}/workers/invoke", content=invoke, headers=hostile)
    assert r.status_code == 403
    chat = httpx.get(f"{worker.url}/chat", headers={"host": "rebind.attacker.example"})
    assert chat.status_code == 405  # not the console: falls through to the generic ingress
    forwarded = {"host": "localhost:18080", "content-type": "application/json"}
    r = httpx.post(f"{worker.url}/workers/invoke", content=invoke, headers=forwarded)
    assert r.status_code == 200, r.text
    assert httpx.get(f"{worker.url}/chat", headers={"host": "[::1]:9"}).status_code == 200
    worker.stop()
