"""The worker's resource limits (SPEC §7 "bounded by default") and the counters that hold them.

Every limit has a `GREENTIC_WORKER_*` variable (table in `SETTINGS`, documented in
docs/security.md). Defaults fit the 1 GiB pod: at most `max_connections` sockets (each can
buffer ~320 KiB in uvicorn before we read it), `body_budget_mib` of request bodies held at
once, `max_in_flight` requests inside the app; everything beyond is a 503 with `Retry-After`.
Pure: the shell passes the environment and the descriptor limit in.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Generic, TypeVar

from greentic.errors import InvalidArgument

MIB = 1024 * 1024
FD_RESERVE = 64  # descriptors kept for logs, the store, the tunnel and bundle files
MIN_SLACK = 16  # connections past the cap that may still get a 503 (or a probe its 200)
IN_FLIGHT_BURSTS = 4  # accept rounds whose sockets can be open before admission closes them


@dataclass(frozen=True)
class Limits:
    """What one worker process allows at once, and how long it waits for a slow client."""

    max_connections: int = 512
    max_in_flight: int = 256
    body_budget_mib: int = 192
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keep_alive_s: float = 5.0
    max_header_kib: int = 16
    retry_after_s: int = 1

    @property
    def body_budget_bytes(self) -> int:
        return self.body_budget_mib * MIB


@dataclass(frozen=True)
class Setting:
    """One environment variable: the field it sets and what a valid value looks like."""

    variable: str
    field: str
    parse: Callable[[str], float | int | None]
    expect: str


def _whole(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and 0 < int(text) <= 10**9 else None


def _seconds(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if 0 < value <= 86400 else None


SETTINGS = (
    Setting("GREENTIC_WORKER_MAX_CONNECTIONS", "max_connections", _whole, "a whole number >= 1"),
    Setting("GREENTIC_WORKER_MAX_IN_FLIGHT", "max_in_flight", _whole, "a whole number >= 1"),
    Setting("GREENTIC_WORKER_BODY_BUDGET_MIB", "body_budget_mib", _whole, "a whole number >= 1"),
    Setting("GREENTIC_WORKER_HEADER_TIMEOUT_S", "header_timeout_s", _seconds, "seconds > 0"),
    Setting("GREENTIC_WORKER_BODY_TIMEOUT_S", "body_timeout_s", _seconds, "seconds > 0"),
    Setting("GREENTIC_WORKER_KEEP_ALIVE_S", "keep_alive_s", _seconds, "seconds > 0"),
    Setting("GREENTIC_WORKER_MAX_HEADER_KIB", "max_header_kib", _whole, "a whole number >= 1"),
    Setting("GREENTIC_WORKER_RETRY_AFTER_S", "retry_after_s", _whole, "a whole number >= 1"),
)
assert {s.field for s in SETTINGS} == {f.name for f in fields(Limits)}


def from_environ(environ: Mapping[str, str]) -> Limits:
    """The limits, defaults overridden by set variables; a bad value is one clear error."""
    defaults = Limits()
    changes: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.variable, "")
        if not raw.strip():
            continue
        value = setting.parse(raw)
        if value is None:
            default = getattr(defaults, setting.field)
            raise InvalidArgument(
                f"{setting.variable}=`{raw}` is not valid: expected {setting.expect}",
                hint=f"unset it to use the default ({default}) or set {setting.expect}",
            )
        changes[setting.field] = value
    return replace(defaults, **changes)


def from_os_environ() -> Limits:
    """`from_environ(os.environ)`: the default of a Runtime built by the process."""
    return from_environ(os.environ)


@dataclass(frozen=True)
class ConnectionCaps:
    """`serve`: connections served normally; `ceiling`: open sockets at most (the rest get a
    503 until the ceiling, then are closed unanswered)."""

    serve: int
    ceiling: int


def accept_burst(fd_limit: int) -> int:
    """How many connections one accept round may take (asyncio's `backlog`, also the kernel
    queue): their sockets are open before the guard sees them."""
    return min(max(fd_limit // 16, 16), 256)


def connection_caps(max_connections: int, fd_limit: int) -> ConnectionCaps:
    """Fit the connection cap under the descriptor limit: FD_RESERVE for the rest of the
    worker, and IN_FLIGHT_BURSTS accept rounds (sockets open before admission or closing)."""
    available = max(fd_limit - FD_RESERVE - IN_FLIGHT_BURSTS * accept_burst(fd_limit), 2)
    slack = max(MIN_SLACK, min(max_connections, available) // 8)
    ceiling = min(max_connections + slack, available)
    serve = max(min(max_connections, ceiling - slack), 1)
    return ConnectionCaps(serve=serve, ceiling=ceiling)


class Gauge:
    """A counter with a capacity: in-flight requests, or buffered body bytes; `peak` is the
    highest use since someone last reset it (the heap trimmer does)."""

    __slots__ = ("capacity", "peak", "used")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self.peak = 0

    def take(self, amount: int) -> bool:
        """Claim `amount` if it fits; False (nothing claimed) otherwise."""
        used = self.used + amount
        if used > self.capacity:
            return False
        self.used = used
        if used > self.peak:
            self.peak = used
        return True

    def give(self, amount: int) -> None:
        self.used -= amount


C = TypeVar("C")


class ConnectionGuard(Generic[C]):
    """Admission of new connections: under the cap, served; at the cap, the connection that
    has waited longest for a request head is evicted to make room (slow-header floods cannot
    starve probes); when none waits, a 503 up to the ceiling; past it, dropped."""

    SERVE, REFUSE, DROP = "serve", "refuse", "drop"

    def __init__(self, caps: ConnectionCaps) -> None:
        self.caps = caps
        self.open = 0
        self.idle: dict[C, None] = {}  # waiting for a request head, oldest first

    def admit(self, conn: C) -> tuple[str, C | None]:
        """What to do with a new connection, and which idle one to evict for it (if any)."""
        if self.open >= self.caps.ceiling:
            return self.DROP, None
        self.open += 1
        if self.open <= self.caps.serve:
            self.idle[conn] = None
            return self.SERVE, None
        victim = next(iter(self.idle), None)
        if victim is None:
            return self.REFUSE, None
        del self.idle[victim]
        self.idle[conn] = None
        return self.SERVE, victim

    def waiting(self, conn: C) -> None:
        """The connection now waits for a request head (newest idle)."""
        self.idle.pop(conn, None)
        self.idle[conn] = None

    def busy(self, conn: C) -> None:
        self.idle.pop(conn, None)

    def closed(self, conn: C) -> None:
        self.idle.pop(conn, None)
        self.open -= 1
