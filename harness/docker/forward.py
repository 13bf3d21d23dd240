"""A port-forward bound to ONE docker pod, as `kubectl port-forward pod/<name>` is.

`PodForward` listens on 127.0.0.1:<ephemeral> and relays each connection to the pod's
published port. It checks, per connection, that the pod it was opened on is still current
(`alive()`): once that pod was replaced or deleted, new connections are reset and open ones
die with the old sandbox — kubectl's forward fails the same way when its pod goes. Used by
harness.docker.worker.DockerWorker.port_forward.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from types import TracebackType

from harness.docker.engine import LOOPBACK

CHUNK = 64 * 1024
CONNECT_TIMEOUT_S = 5.0


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the client sees `connection reset`, not a clean EOF."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(CHUNK):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


class PodForward:
    """Relay 127.0.0.1:<local_port> → 127.0.0.1:<target_port> while `alive()` holds."""

    def __init__(self, target_port: int, alive: Callable[[], bool], *, name: str) -> None:
        self.target_port = target_port
        self.alive = alive
        self.name = name
        self._server = socket.create_server((LOOPBACK, 0))
        self.local_port = int(self._server.getsockname()[1])
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"forward-{name}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.local_port}"

    def __enter__(self) -> PodForward:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        if not self.alive():
            _reset(client)
            return
        try:
            upstream = socket.create_connection(
                (LOOPBACK, self.target_port), timeout=CONNECT_TIMEOUT_S
            )
        except OSError:
            _reset(client)
            return
        upstream.settimeout(None)
        with self._lock:
            self._open += [client, upstream]
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        for sock in (client, upstream):
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._server.close()
        with self._lock:
            for sock in self._open:
                _reset(sock)
            self._open.clear()


@contextlib.contextmanager
def forward(target_port: int, alive: Callable[[], bool], *, name: str) -> Iterator[str]:
    """`http://127.0.0.1:<local>` relayed to `target_port` while the pod stays `alive()`."""
    with PodForward(target_port, alive, name=name) as relay:
        yield relay.url
