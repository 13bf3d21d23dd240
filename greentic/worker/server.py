"""Bind the listeners and serve the ASGI apps with uvicorn until SIGTERM/SIGINT (SPEC §7).

We bind before the banner, so a port in use is one clear error and PORT=0 reports the real
port. A signal stops accepting, lets in-flight requests finish (up to GRACE_SECONDS) and
returns, so the process exits 0; a second SIGINT forces it. Several listeners share one loop,
each with its own app (its own console-trust flag). Called by `greentic.worker.process`.

Limits (SPEC §7, `greentic.worker.limits`): one connection guard for all listeners, sized
under the descriptor limit (the soft limit is raised to the hard one first); uvicorn's
httptools protocol is wrapped by `connections.protocol_class` (head/body deadlines, a head
over `max_header_kib` is a 431, pipelining bounded); after a burst, cyclic garbage is collected
and freed request buffers go back to the OS (`keep_heap_trimmed`). uvicorn logs errors only:
its per-request warnings are client mistakes already answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import resource
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from greentic.errors import Conflict, IoError
from greentic.worker.limits import (
    ConnectionCaps,
    ConnectionGuard,
    Gauge,
    Limits,
    accept_burst,
    connection_caps,
)
from greentic.worker.listeners import Address

if TYPE_CHECKING:
    import uvicorn

    from greentic.worker.app import Receive, Scope, Send, WorkerApp

GRACE_SECONDS = 10
TRIM_EVERY_S = 5.0
TRIM_AFTER_BYTES = 16 * 1024 * 1024
BACKLOG = 2048
HANDLED = (signal.SIGTERM, signal.SIGINT)
_early_signals: list[signal.Signals] = []


def hold_signals() -> None:
    """Record SIGTERM/SIGINT until the server's own handlers are in, so a signal sent right
    after the banner (a pod stopped at start) still means a graceful exit 0, not death by -15."""
    for sig in HANDLED:
        signal.signal(sig, lambda signum, _frame: _early_signals.append(signal.Signals(signum)))


def stop_requested() -> bool:
    """Whether SIGTERM/SIGINT arrived since `hold_signals` (checked by waits before serving)."""
    return bool(_early_signals)


def _try_bind(address: Address) -> socket.socket:
    family = socket.AF_INET6 if ":" in address.ip else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only then, and
    # without it Nagle + delayed ACKs cost every response ~40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address.ip, address.port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def free_port_near(address: Address, span: int = 10) -> int | None:
    """A port in (port, port+span] that binds right now, to suggest in an error."""
    for port in range(address.port + 1, min(address.port + span, 65535) + 1):
        try:
            _try_bind(Address(address.ip, port)).close()
        except OSError:
            continue
        return port
    return None


def bind(address: Address, *, env_id: str) -> socket.socket:
    """A listening, non-blocking socket on `address`; a user-fixable failure is one clear error."""
    try:
        return _try_bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            port = free_port_near(address) if address.port else None
            suggestion = f"PORT={port}" if port else "PORT=<another port>"
            raise Conflict(
                f"cannot listen on {address}: the address is already in use",
                hint=f"stop whatever holds it, or pick another port: "
                f"{suggestion} greentic-start start --env {env_id}",
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise IoError(
                f"cannot listen on {address}: {address.ip} is not an address of this machine",
                hint="set GREENTIC_GATEWAY_LISTEN_ADDR to a local IP (127.0.0.1 or 0.0.0.0)",
            ) from None
        if exc.errno == errno.EACCES:
            raise IoError(
                f"cannot listen on {address}: permission denied (ports below 1024 need privileges)",
                hint=f"use a higher port: PORT=8080 greentic-start start --env {env_id}",
            ) from None
        raise IoError(f"cannot listen on {address}: {exc.strerror or exc}") from None


def bind_admin(main_port: int) -> socket.socket:
    """The loopback admin listener: the first free of 127.0.0.1:<main+1 … main+10>."""
    from greentic.worker.listeners import DEFAULT_IP, admin_candidates

    ports = admin_candidates(main_port)
    for port in ports:
        try:
            return _try_bind(Address(DEFAULT_IP, port))
        except OSError:
            continue
    span = f"{ports[0]}..={ports[-1]}" if ports else f"{main_port + 1}.."
    raise Conflict(
        f"no available port found in range {span} for the loopback admin listener",
        hint="free one of those ports, or move the main listener with PORT=<port>",
    )


class PortDispatch:
    """One ASGI app per local port, for a process with several listeners."""

    def __init__(self, apps: dict[int, WorkerApp]) -> None:
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        app = self.apps.get(server[1]) if server else None
        if app is None:  # a listener we did not bind: never serve it anything
            return
        await app(scope, receive, send)


def _make_server(
    config: uvicorn.Config, on_signal: Callable[[str], None], on_started: Callable[[], None]
) -> uvicorn.Server:
    import uvicorn

    class WorkerServer(uvicorn.Server):
        """uvicorn's server with our signal handling: a signal means exit 0, not re-raise."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            for sock in sockets or []:  # asyncio set the kernel queue to the accept burst:
                sock.listen(BACKLOG)  # a long queue again, so a probe's SYN is never dropped
            on_started()

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            loop = asyncio.get_running_loop()
            for sig in HANDLED:
                loop.add_signal_handler(sig, self._signalled, sig)
            while _early_signals:
                self._signalled(_early_signals.pop(0))
            try:
                yield
            finally:
                for sig in HANDLED:
                    loop.remove_signal_handler(sig)

        def _signalled(self, sig: signal.Signals) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True
            on_signal(sig.name)

    return WorkerServer(config)


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft descriptor limit toward `wanted` (up to the hard limit); the result."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft if soft != resource.RLIM_INFINITY else wanted


def malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, looked up in the process's own symbols (`CDLL(None)`: libc is
    loaded), or None (not glibc). `ctypes.util.find_library` would run `ldconfig -p` in a
    child process (#16)."""
    import ctypes

    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def keep_heap_trimmed(bodies: Gauge) -> None:
    """Every TRIM_EVERY_S, when request bodies of TRIM_AFTER_BYTES or more were held since the
    last look, collect cyclic garbage and give freed heap pages back to the OS (glibc keeps
    them: after a flood of big bodies the RSS would stay up). The collection comes first: an
    idle worker allocates nothing, so the collector would not run, and bodies still reachable
    from garbage cycles kept ~20 MiB of a 32 MiB burst (measured with #12's flood test).
    Cheap: one comparison per look, a collection and a trim only after a burst; `malloc_trim`
    (and ctypes) is looked up at the first burst, never during the boot."""
    loop = asyncio.get_running_loop()
    found: list[Callable[[int], int] | None] = []

    def look() -> None:
        if bodies.peak >= TRIM_AFTER_BYTES:
            if not found:
                found.append(malloc_trim())
            gc.collect()
            if found[0] is not None:
                found[0](0)
            bodies.peak = bodies.used
        loop.call_later(TRIM_EVERY_S, look)

    loop.call_later(TRIM_EVERY_S, look)


def serving(bodies: Gauge) -> None:
    """Once the listeners serve: the heap trim armed and the cyclic GC back on (`greentic-start`
    boots without it, greentic.cli.start). What the boot built is frozen first (`gc.freeze`):
    turning the collector on would otherwise scan all of it (~64k objects, ~16 ms) before the
    first request, and every later full collection again. The cost: the boot's own cyclic
    garbage (~1k objects, measured) is never reclaimed; everything acyclic was freed as usual."""
    gc.freeze()
    gc.enable()
    keep_heap_trimmed(bodies)


def fd_budget(limits: Limits) -> tuple[ConnectionCaps, int]:
    """The connection caps and the accept burst under this process's (raised) fd limit."""
    fd_limit = raise_fd_limit(limits.max_connections * 2 + 2048)
    return connection_caps(limits.max_connections, fd_limit), accept_burst(fd_limit)


def serve(
    bound: Sequence[tuple[socket.socket, WorkerApp]],
    *,
    on_signal: Callable[[str], None] = lambda _name: None,
) -> None:
    """Serve until a signal; returns after a graceful shutdown."""
    import uvicorn

    from greentic.worker.connections import protocol_class

    app: Any = (
        bound[0][1]
        if len(bound) == 1
        else PortDispatch({sock.getsockname()[1]: a for sock, a in bound})
    )
    limits = bound[0][1].runtime.limits
    caps, burst = fd_budget(limits)
    guard: ConnectionGuard[Any] = ConnectionGuard(caps)
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        log_level="error",
        access_log=False,
        http=protocol_class(limits, guard),
        ws="none",
        loop="asyncio",
        proxy_headers=False,
        timeout_graceful_shutdown=GRACE_SECONDS,
        timeout_keep_alive=limits.keep_alive_s,  # type: ignore[arg-type]  # float is fine
        backlog=burst,  # asyncio accepts this many per round: sockets the guard has not seen
    )
    runtime = bound[0][1].runtime  # shared by every listener's app
    server = _make_server(config, on_signal, lambda: serving(runtime.bodies))
    asyncio.run(server.serve(sockets=[sock for sock, _ in bound]))
