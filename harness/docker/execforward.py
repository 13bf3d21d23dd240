"""A port-forward that connects from INSIDE one docker pod, as kubelet's port-forward does.

`kubectl port-forward` reaches `127.0.0.1:<port>` in the pod's network namespace, so a
listener bound to the pod's loopback (the worker's admin/console listener on 8081 when a
tunnel fronts 8080) answers it, and sees a loopback peer. A published Docker port cannot do
that: docker-proxy connects to the container's network address. Here each local connection
becomes `docker exec <sandbox> nc 127.0.0.1 <port>` (busybox, in the pod's sandbox, which
owns the namespace), with the exec's stdin/stdout relayed — the dockershim's nsenter+socat,
through the engine API. Per connection it checks that the pod it was opened on is still
current; once that pod is gone, new connections are reset and open ones end with its sandbox.
Used by harness.docker.worker.DockerWorker.port_forward.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

from harness.docker.engine import LOOPBACK

CHUNK = 64 * 1024
HEADER = struct.Struct(">BxxxL")  # the engine's multiplexed stream frame: stream id, size
STDOUT = 1


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the client sees `connection reset`, not a clean EOF."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy `src` to `dst` until EOF, then half-close `dst`."""
    try:
        while data := src.recv(CHUNK):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def _raw(hijacked: Any) -> socket.socket:
    """The socket under docker-py's hijacked exec response."""
    sock = getattr(hijacked, "_sock", hijacked)
    if not isinstance(sock, socket.socket):
        raise TypeError(f"unexpected exec socket {type(hijacked).__name__}")
    return sock


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        data = sock.recv(size)
        if not data:
            return None
        chunks.append(data)
        size -= len(data)
    return b"".join(chunks)


def _demux(src: socket.socket, dst: socket.socket) -> None:
    """Copy the exec's stdout frames to `dst` until the exec ends, then half-close `dst`."""
    try:
        while (header := _recv_exact(src, HEADER.size)) is not None:
            stream, size = HEADER.unpack(header)
            payload = _recv_exact(src, size)
            if payload is None:
                break
            if stream == STDOUT:
                dst.sendall(payload)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


class ExecForward:
    """Relay 127.0.0.1:<local_port> → 127.0.0.1:<port> in the pod of `container_id`."""

    def __init__(
        self, api: Any, container_id: str, port: int, alive: Callable[[], bool], *, name: str
    ) -> None:
        self.api = api
        self.container_id = container_id
        self.port = port
        self.alive = alive
        self.name = name
        self._server = socket.create_server((LOOPBACK, 0))
        self.local_port = int(self._server.getsockname()[1])
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"exec-fwd-{name}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.local_port}"

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _connect(self) -> socket.socket:
        """A socket whose writes are `nc`'s stdin and whose reads are its framed output."""
        exec_id = self.api.exec_create(
            self.container_id,
            ["nc", LOOPBACK, str(self.port)],
            stdin=True,
            stdout=True,
            stderr=False,
            tty=False,
        )["Id"]
        return _raw(self.api.exec_start(exec_id, socket=True))

    def _relay(self, client: socket.socket) -> None:
        if not self.alive():
            _reset(client)
            return
        try:
            upstream = self._connect()
        except Exception:  # the engine refused (sandbox gone): as a refused forward
            _reset(client)
            return
        upstream.settimeout(None)
        with self._lock:
            self._open += [client, upstream]
        back = threading.Thread(target=_demux, args=(upstream, client), daemon=True)
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
def exec_forward(
    api: Any, container_id: str, port: int, alive: Callable[[], bool], *, name: str
) -> Iterator[str]:
    """`http://127.0.0.1:<local>` relayed to the pod's own `127.0.0.1:<port>` while it lives."""
    relay = ExecForward(api, container_id, port, alive, name=name)
    relay._thread.start()
    try:
        yield relay.url
    finally:
        relay.close()
