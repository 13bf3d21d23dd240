"""An HTTP bundle distributor on 127.0.0.1:<free port> that counts and can lie.

Serves the files of one directory (GET/HEAD), counts requests per path, and can be told to
serve wrong bytes for a path (`tamper`) or to fail it a few times (`fail`) — the two ways a
real distributor goes wrong. A context manager that cleans up even on a half start; `clear()`
resets counts and misbehaviour between tests. Used by scenarios through the track backend.
"""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from harness.closing import TearDownOnExit
from harness.errors import HarnessError
from harness.ports import LOOPBACK


class DistributorError(HarnessError):
    """Raised when the distributor cannot start or is asked to publish something unusable."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int


def tampered(data: bytes) -> bytes:
    """Same length, different bytes: the middle byte flipped (a bit-rot / MITM stand-in)."""
    if not data:
        return b"tampered"
    mid = len(data) // 2
    return data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1 :]


class Distributor(TearDownOnExit):
    """Serve `root` over loopback HTTP.

    Example:
        with Distributor(tmp / "dist") as d:
            url = d.publish(fixture)          # http://127.0.0.1:PORT/webchat-bot.gtbundle
            d.tamper("webchat-bot.gtbundle")  # from now on it serves wrong bytes
            assert d.hits("webchat-bot.gtbundle") == 0
    """

    scheme = "http"

    def __init__(self, root: Path, *, host: str = LOOPBACK, log_path: Path | None = None) -> None:
        self.root = root
        self.host = host
        self.log_path = log_path
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._requests: list[Request] = []
        self._tampered: dict[str, bytes] = {}
        self._failing: dict[str, tuple[int, int]] = {}

    # -- lifecycle ----------------------------------------------------------------------
    def set_up(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._server = ThreadingHTTPServer((self.host, 0), _handler_for(self))
            self._server.daemon_threads = True
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"distributor-{self.port}",
                daemon=True,
            )
            self._thread.start()
        except OSError as exc:
            raise DistributorError(
                f"cannot start the bundle distributor on {self.host}: {exc}"
            ) from None

    def tear_down(self, exc: BaseException | None) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # -- addresses ----------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the distributor is not running (use it as a context manager)")
        return int(self._server.server_address[1])

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"

    def url_for(self, name: str) -> str:
        return f"http://{self.authority}/{name.lstrip('/')}"

    # -- content and behaviour ----------------------------------------------------------
    def publish(self, source: Path, name: str | None = None) -> str:
        """Copy `source` into the served directory as `name`; its URL (as seen from the host)."""
        name = name or source.name
        target = self._resolve(name)
        if target is None:
            raise DistributorError(f"cannot publish as {name!r}: the name leaves {self.root}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        except OSError as exc:
            raise DistributorError(f"cannot publish {source}: {exc.strerror or exc}") from None
        return self.url_for(name)

    def tamper(self, name: str, data: bytes | None = None) -> None:
        """Serve `data` (default: the file's bytes with one byte flipped) for `name` from now on."""
        if data is None:
            target = self._resolve(name)
            if target is None or not target.is_file():
                raise DistributorError(f"cannot tamper {name!r}: it is not published")
            data = tampered(target.read_bytes())
        with self._lock:
            self._tampered[_key(name)] = data

    def served_bytes(self, name: str) -> bytes | None:
        """What a GET of `name` returns right now (tampered or real), or None if absent."""
        with self._lock:
            if _key(name) in self._tampered:
                return self._tampered[_key(name)]
        target = self._resolve(name)
        return target.read_bytes() if target is not None and target.is_file() else None

    def fail(self, name: str, *, status: int = 503, times: int = 1) -> None:
        """Answer `status` for the next `times` requests of `name` (a flaky distributor)."""
        with self._lock:
            self._failing[_key(name)] = (status, times)

    def hits(self, name: str) -> int:
        """GET/HEAD requests seen for `name` (any status)."""
        with self._lock:
            return self._counts[_key(name)]

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        """Forget counts, requests, tampering and failures (files stay published)."""
        with self._lock:
            self._counts.clear()
            self._requests.clear()
            self._tampered.clear()
            self._failing.clear()

    # -- used by the request handler ----------------------------------------------------
    def _resolve(self, name: str) -> Path | None:
        root = self.root.resolve()
        target = (root / _key(name)).resolve()
        return target if target.is_relative_to(root) and target != root else None

    def _answer(self, method: str, raw_path: str) -> tuple[int, bytes]:
        key = _key(unquote(urlsplit(raw_path).path))
        with self._lock:
            self._counts[key] += 1
            failing = self._failing.get(key)
            if failing is not None:
                status, times = failing
                if times <= 1:
                    del self._failing[key]
                else:
                    self._failing[key] = (status, times - 1)
            body = self._tampered.get(key)
        if failing is not None:
            result = (failing[0], f"{HTTPStatus(failing[0]).phrase}\n".encode())
        elif body is not None:
            result = (200, body)
        else:
            target = self._resolve(key)
            if target is None or not target.is_file():
                result = (404, b"not found\n")
            else:
                result = (200, target.read_bytes())
        with self._lock:
            self._requests.append(Request(method=method, path="/" + key, status=result[0]))
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf-8") as fh:
                fh.write(f"{method} /{key} {result[0]} {len(result[1])}\n")
        return result


def _key(name: str) -> str:
    return name.lstrip("/")


def _handler_for(dist: Distributor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._reply(head=False)

        def do_HEAD(self) -> None:
            self._reply(head=True)

        def _reply(self, *, head: bool) -> None:
            status, body = dist._answer(self.command, self.path)
            self.send_response(status)
            ctype = "application/octet-stream" if status == 200 else "text/plain; charset=utf-8"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None  # requests are recorded by the distributor itself

    return Handler
