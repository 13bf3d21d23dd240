"""A loopback HTTP origin that records what reaches it: stands in for the worker behind the
fake tunnel when the fakes are tested on their own (peer, path, headers, body per request).

Example:
    with RecordingOrigin() as origin:   # answers every GET/POST 200 `{"echo": true}`
        ... edge.request("POST", "/webhook/telegram") ...
        [seen] = origin.seen
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness.closing import StopOnExit
from harness.ports import LOOPBACK

MAX_BODY = 1024 * 1024
ANSWER = b'{"echo": true}'


@dataclass(frozen=True)
class Seen:
    """One request as the origin saw it."""

    method: str
    path: str
    peer: str
    headers: dict[str, str]
    body: bytes


class RecordingOrigin(StopOnExit):
    """Serve on 127.0.0.1:<free port> in a thread; `seen` lists the requests in order."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            timeout = 10.0

            def do_GET(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
                body = self.rfile.read(length) if length > 0 else b""
                peer = str(self.client_address[0])
                seen.append(Seen(self.command, self.path, peer, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(ANSWER)))
                self.end_headers()
                self.wfile.write(ANSWER)

            do_POST = do_GET

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
