"""The real `greentic-start` as a subprocess: cold boot with a pull, replies, refusals, shutdown.

Each test authors a store holding only environment.json (as a pod receives it), serves the
fixture bundles from a loopback HTTP server on a free port, and runs the console script with
PORT=0 so tests run in parallel. No timing assertions: deadlines only bound the waits.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bundle_support import FIXTURES, Distributor, Route

from greentic.spec.environment import Environment, HostConfig
from greentic.store.envstore import Store
from tests.support.stores import new_env

DIGESTS: dict[str, str] = json.loads((FIXTURES / "digests.json").read_text())
GREENTIC_START = str(Path(sys.executable).parent / "greentic-start")
BANNER = re.compile(
    r"^serving (\d+) revision\(s\) for env `local` across (\d+) deployment\(s\) on (http://\S+)$"
)
PROBES_ONLY = re.compile(
    r"^no bundles attached to env `local` — serving probes only on (http://\S+) "
    r"\(attach a bundle with `gtc op bundles add`\)$"
)
REFUSAL = (
    "pulled bundle digest `{got}` does not match revision `{rev}`'s pinned `{pinned}`; "
    "refusing to serve unpinned bytes"
)
DEADLINE_S = 20.0


def author(store_root: Path, bundle: str | None, *, uri: str = "") -> str:
    """Env `local` as a pod receives it (environment.json only): one `/` deployment of
    `bundle` routed 100% to a revision pinned to the fixture's digest and pulled from `uri`."""
    store = Store(store_root)
    rev_id = ""
    if bundle is None:
        env = Environment(
            environment_id="local", name="local", host_config=HostConfig(env_id="local")
        )
        with store.create(env, verb="test"):
            pass
    else:
        [rev_id] = new_env(store, [DIGESTS[f"{bundle}.gtbundle"]], env_id="local", bundle_id=bundle)
        with store.mutate("local", verb="test") as env:
            env.revisions[0].bundle_source_uri = uri
    paths = store.paths("local")
    for leftover in (paths.runtime_config, paths.audit, paths.dir / ".lock"):
        leftover.unlink(missing_ok=True)
    return rev_id


def serve(distributor: Distributor, path: str, fixture: str) -> str:
    """Publish `fixture`'s bytes at `path`; returns the URL."""
    return distributor.add(path, Route(body=(FIXTURES / fixture).read_bytes()))


@pytest.fixture
def distributor() -> Iterator[Distributor]:
    with Distributor() as d:
        yield d


class Worker:
    """A `greentic-start start --env local` subprocess whose stdout is read line by line."""

    def __init__(self, store_root: Path, *, port: int = 0) -> None:
        environ = {
            **os.environ,
            "PORT": str(port),
            "GREENTIC_GATEWAY_LISTEN_ADDR": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
        environ.pop("GREENTIC_ENV", None)
        self.store_root = store_root
        self.proc = subprocess.Popen(
            [GREENTIC_START, "start", "--env", "local", "--store-root", str(store_root)],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self, deadline: float) -> str | None:
        """The next stdout line, or None at EOF; fails the test at the deadline."""
        try:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail(f"no stdout line within the deadline; seen: {self.stdout}")
        if line is not None:
            self.stdout.append(line)
        return line

    def banner(self) -> str:
        line = self.next_line(time.monotonic() + DEADLINE_S)
        if line is None:
            pytest.fail(f"worker exited {self.proc.wait()} before its banner: {self.stderr()}")
        return line

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def wait(self) -> int:
        return self.proc.wait(timeout=DEADLINE_S)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.kill()


def boot(store_root: Path, workers: list[Worker]) -> tuple[Worker, str]:
    """Start a worker and return it with its base URL (from the serving banner)."""
    worker = Worker(store_root)
    workers.append(worker)
    line = worker.banner()
    match = BANNER.match(line)
    assert match, line
    return worker, match.group(3)


def stop(store_root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GREENTIC_START, "stop", "--env", "local", "--store-root", str(store_root)],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )


def test_cold_boot_pulls_over_http_and_answers(
    store_root: Path, distributor: Distributor, workers: list[Worker]
) -> None:
    author(store_root, "webchat-bot", uri=serve(distributor, "/b.gtbundle", "webchat-bot.gtbundle"))
    worker, url = boot(store_root, workers)
    assert BANNER.match(worker.stdout[0]).groups()[:2] == ("1", "1")  # type: ignore[union-attr]
    assert distributor.routes["/b.gtbundle"].hits == 1
    assert httpx.get(f"{url}/healthz").text == "ok"
    status = httpx.get(f"{url}/status").json()
    assert status == {
        "schema": "greentic.status.v1",
        "env_id": "local",
        "listen_addr": url.removeprefix("http://"),
        "bundles_active": 1,
        "deployments_routed": 1,
        "revisions_active": 1,
    }
    reply = httpx.post(f"{url}/", json={"text": "hi"})
    assert reply.status_code == 200
    assert reply.json() == [
        {
            "kind": {"kind": "custom", "action": "response"},
            "tenant": "tenant-default",
            "payload": {"text": "Hello from webchat-bot! You said: hi"},
        }
    ]
    chat = httpx.get(f"{url}/chat")
    assert chat.status_code == 200 and "/workers/invoke" in chat.text

    result = stop(store_root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("stopped greentic-start (pid ")
    assert worker.wait() == 0
    while worker.next_line(time.monotonic() + DEADLINE_S) is not None:
        pass
    assert "received SIGTERM; finishing in-flight requests, then exiting" in worker.stdout
    env_dir = store_root / "local"
    assert not (env_dir / "state" / "pids" / "worker.json").exists()
    log = (env_dir / "logs" / "system.log").read_text().splitlines()
    assert any("materialized 1 revision(s) from bundle sources" in ln for ln in log)
    assert all(
        re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARN|ERROR) ", ln) for ln in log
    )


def test_perf_smoke_failure_shapes(store_root: Path, workers: list[Worker]) -> None:
    author(store_root, "perf-smoke", uri=(FIXTURES / "perf-smoke.gtbundle").as_uri())
    _worker, url = boot(store_root, workers)
    assert httpx.get(f"{url}/healthz").status_code == 200
    sessioned = httpx.post(f"{url}/", json={"text": "hi"})
    assert sessioned.status_code == 200
    [reply] = sessioned.json()
    assert reply["payload"]["metadata"] == {
        "error_kind": "flow_execution_failed",
        "error_message": "flow main has no start node",
        "flow_id": "main",
    }
    assert reply["payload"]["text"] == (
        "Sorry — something went wrong while handling that. Please try again."
    )
    unsessioned = httpx.post(f"{url}/", json={"ping": 1})
    assert (unsessioned.status_code, unsessioned.text) == (500, "flow execution failed")


def test_digest_mismatch_fails_closed(
    store_root: Path, distributor: Distributor, workers: list[Worker]
) -> None:
    tampered = serve(distributor, "/webchat-bot.gtbundle", "perf-smoke.gtbundle")  # wrong bytes
    rev = author(store_root, "webchat-bot", uri=tampered)
    worker = Worker(store_root)
    workers.append(worker)
    assert worker.wait() != 0
    err = worker.stderr()
    expected = REFUSAL.format(
        got=DIGESTS["perf-smoke.gtbundle"], rev=rev, pinned=DIGESTS["webchat-bot.gtbundle"]
    )
    assert expected in err
    assert len(err.strip().splitlines()) == 1
    assert worker.next_line(time.monotonic() + DEADLINE_S) is None  # never printed a banner
    env_dir = store_root / "local"
    assert not (env_dir / "runtime-config.json").exists()
    assert not (env_dir / "revisions" / rev).exists()


def test_no_bundles_serves_probes_only(store_root: Path, workers: list[Worker]) -> None:
    author(store_root, None)
    worker = Worker(store_root)
    workers.append(worker)
    match = PROBES_ONLY.match(worker.banner())
    assert match, worker.stdout
    url = match.group(1)
    assert httpx.get(f"{url}/readyz").text == "ok"
    r = httpx.post(f"{url}/", json={"text": "hi"})
    assert (r.status_code, r.text) == (404, "no deployment is bound to this host and path")
    worker.proc.send_signal(signal.SIGINT)
    assert worker.wait() == 0


def read_response(conn: socket.socket) -> bytes:
    """One HTTP/1.1 response with a Content-Length, read whole (headers and body may split)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
    while len(rest) < length:
        rest += conn.recv(65536)
    return head + b"\r\n\r\n" + rest


def test_sigterm_lets_an_in_flight_request_finish(store_root: Path, workers: list[Worker]) -> None:
    author(store_root, "webchat-bot", uri=(FIXTURES / "webchat-bot.gtbundle").as_uri())
    worker, url = boot(store_root, workers)
    host, port = url.removeprefix("http://").split(":")
    body = b'{"text":"slow"}'
    head = f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    request = f"{head}Content-Length: {len(body)}\r\n\r\n".encode()
    with socket.create_connection((host, int(port)), timeout=DEADLINE_S) as conn:
        conn.sendall(request + body)  # a first, whole request: the connection is being served
        assert read_response(conn).startswith(b"HTTP/1.1 200 ")
        conn.sendall(request + body[:5])  # the second request stops mid-body
        time.sleep(0.2)  # let the worker read its head before the signal
        worker.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # the worker is now draining, with our request still open
        assert worker.proc.poll() is None
        conn.sendall(body[5:])
        response = b""
        while chunk := conn.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200 ")
    assert b"Hello from webchat-bot! You said: slow" in response
    assert worker.wait() == 0


def test_port_in_use_is_one_clear_error(store_root: Path, workers: list[Worker]) -> None:
    author(store_root, None)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        worker = Worker(store_root, port=port)
        workers.append(worker)
        assert worker.wait() == 1
        err = worker.stderr()
    assert f"cannot listen on 127.0.0.1:{port}: the address is already in use" in err
    assert "PORT=" in err
    assert "Traceback" not in err


def test_sigterm_right_after_the_banner_is_a_clean_exit(
    store_root: Path, workers: list[Worker]
) -> None:
    """A pod stopped the moment it starts: the signal lands before uvicorn's handlers exist."""
    author(store_root, None)
    for _ in range(5):
        worker = Worker(store_root)
        workers.append(worker)
        assert PROBES_ONLY.match(worker.banner()), worker.stdout
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.wait() == 0


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_bundle_uri_fails_closed_with_one_clear_line(
    store_root: Path, workers: list[Worker]
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/bundles/webchat-bot.gtbundle"
    author(store_root, "webchat-bot", uri=url)
    worker = Worker(store_root)
    workers.append(worker)
    assert worker.next_line(time.monotonic() + 60) is None  # no banner at all
    assert worker.wait() != 0
    err = worker.stderr()
    assert url in err and "Traceback" not in err, err
    assert not (store_root / "local" / "runtime-config.json").exists()
    assert not (store_root / "local" / "state" / "pids" / "worker.json").exists()  # no stale pid


def test_oci_registry_without_the_insecure_variable_names_it(
    store_root: Path, workers: list[Worker]
) -> None:
    """A plain-HTTP registry not listed in GREENTIC_OCI_INSECURE_REGISTRIES: pulled over
    HTTPS, which fails, and the message says which variable to set."""
    with Distributor() as plain_http:  # any plain-HTTP server stands in for the registry
        authority = plain_http.url("/").split("/")[2]
        author(store_root, "webchat-bot", uri=f"oci://{authority}/greentic/webchat-bot:v1")
        worker = Worker(store_root)
        workers.append(worker)
        assert worker.next_line(time.monotonic() + 60) is None
        assert worker.wait() != 0
        err = worker.stderr()
    assert "GREENTIC_OCI_INSECURE_REGISTRIES" in err and "Traceback" not in err, err


def test_stop_reaches_a_worker_that_is_still_pulling(
    store_root: Path, workers: list[Worker], distributor: Distributor
) -> None:
    """A pull that hangs (stalled distributor): `greentic-start stop` finds the booting
    worker through its pid file, it exits 0 without serving, and nothing half-pulled stays."""
    url = distributor.add("/stall.gtbundle", Route(stall_before=True))
    author(store_root, "webchat-bot", uri=url)
    worker = Worker(store_root)
    workers.append(worker)
    pid_file = store_root / "local" / "state" / "pids" / "worker.json"
    deadline = time.monotonic() + DEADLINE_S
    while not pid_file.exists():
        assert worker.proc.poll() is None, worker.stderr()
        assert time.monotonic() < deadline, "the booting worker never wrote its pid file"
        time.sleep(0.02)
    done = stop(store_root)
    assert done.returncode == 0
    assert "booting env `local`" in done.stdout, done.stdout
    assert worker.wait() == 0
    assert worker.next_line(time.monotonic() + DEADLINE_S) == (
        "received SIGTERM while booting; stopped before serving"
    )
    assert not pid_file.exists()
    revisions = store_root / "local" / "revisions"
    assert not revisions.exists() or not any(revisions.iterdir()), list(revisions.iterdir())
