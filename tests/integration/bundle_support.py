"""Real servers for bundle/fetch integration tests: a local OCI registry, an HTTP distributor.

`LocalRegistry` runs Debian's `docker-registry` (distribution v2) on 127.0.0.1:<free port>
with its storage in a temp dir; `Distributor` is a threaded HTTP server with scripted routes
(files, redirects, stalls, failures). Both are context managers that clean up even after a
half start. `harness/registry.py` may replace `LocalRegistry` later; the surface is
`with LocalRegistry(tmp) as reg: reg.host  # "127.0.0.1:PORT"`.
"""

from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from harness.process import stop_gracefully

REGISTRY_BINARY = Path("/usr/bin/docker-registry")
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bundles"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_binary(path: Path, timeout: float = 300.0) -> bool:
    """The registry package may still be installing (apt in the background): wait for it."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


class LocalRegistry:
    """`docker-registry serve` on 127.0.0.1:<free port>; storage under `root`."""

    def __init__(
        self, root: Path, *, binary: Path = REGISTRY_BINARY, startup_timeout: float = 20
    ) -> None:
        self.root = root
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "registry.log"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def logs(self, tail: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-tail:]
        except FileNotFoundError:
            return ""

    def __enter__(self) -> LocalRegistry:
        try:
            self._start()
        except BaseException as exc:
            exc.add_note(f"registry log tail:\n{self.logs()}")
            self.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def _start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for _ in range(3):  # a free port can be taken between probe and bind: retry
            self.port = free_port()
            config = self.root / "config.yml"
            config.write_text(
                "version: 0.1\n"
                "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'data'}\n"
                "  delete:\n    enabled: true\n"
                f"http:\n  addr: {self.host}\n"
            )
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    [str(self.binary), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
                )
            if self._wait_ready():
                return
            self._stop()
        raise RuntimeError(f"docker-registry did not come up on {self.host}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            try:
                if httpx.get(f"http://{self.host}/v2/", timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        return False

    def _stop(self) -> None:
        if self.proc is not None:
            stop_gracefully(self.proc, 5)
        self.proc = None

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()


@dataclass
class Route:
    """A scripted answer: a body, a redirect, a status, or a stall before/within the body."""

    body: bytes = b""
    status: int = 200
    location: str | None = None
    stall_before: bool = False
    stall_after: int | None = None  # bytes sent before stalling
    content_length: bool = True
    fail_first: int = 0  # answer 503 this many times first
    hits: int = 0


@dataclass
class Distributor:
    """A threaded HTTP server on 127.0.0.1:0. Example: `with Distributor() as d: d.url("/x")`."""

    routes: dict[str, Route] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    server: http.server.ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def __enter__(self) -> Distributor:
        dist = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                route = dist.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                route.hits += 1
                if route.hits <= route.fail_first:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.stall_before:
                    dist.release.wait(30)
                    return
                if route.location is not None:
                    self.send_response(route.status if route.status != 200 else 302)
                    self.send_header("Location", route.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(route.status)
                if route.content_length:
                    self.send_header("Content-Length", str(len(route.body)))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                body = route.body if route.stall_after is None else route.body[: route.stall_after]
                try:
                    for i in range(0, len(body), 65536):
                        self.wfile.write(body[i : i + 65536])
                    self.wfile.flush()
                    if route.stall_after is not None:
                        dist.release.wait(30)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def registry_available() -> bool:
    return REGISTRY_BINARY.exists() or shutil.which("docker-registry") is not None


def no_op_sleep(_seconds: float) -> None:
    """Injected into fetch() so retries take no wall time."""


SleepFn = Callable[[float], None]
