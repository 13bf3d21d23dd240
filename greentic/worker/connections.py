"""uvicorn's h11 protocol with the worker's connection limits (SPEC §7 "bounded by default").

uvicorn bounds neither open sockets nor how long a client may take to send a request: a
connection that never finishes its head, or trickles its body, is kept forever, and its
keep-alive timer is disarmed by the first byte. Here every connection is admitted by a
`ConnectionGuard` (evict the longest-idle one at the cap, 503 past it, drop past the ceiling)
and carries one deadline: its request head within `header_timeout_s` (408), its body within
`body_timeout_s` (408, or closed when a response already went out). Requests that arrive whole
in one read arm no timer, so the fast path costs two attribute checks. Each request's
response head is held back and written with its first body bytes (`HeadWithBody`): one
`send()` and one TCP segment per reply instead of two, the largest single cost of a small
reply on loopback (#16). Imported only by `server.serve`, which has already imported uvicorn.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle

from greentic.worker.limits import ConnectionGuard, Limits

PROBES = frozenset({b"/livez", b"/readyz", b"/healthz", b"/health"})
REFUSED_HEAD_TIMEOUT_S = 2.0
FULL = "the worker is at its limit of open connections; retry shortly"


def raw_response(status: str, body: str, extra: str = "") -> bytes:
    """A complete `Connection: close` response, for answers given outside the ASGI app."""
    data = body.encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(data)}\r\nconnection: close\r\n{extra}\r\n"
    ).encode() + data


HEAD_TIMEOUT = raw_response("408 Request Timeout", "request head not received in time")
BODY_TIMEOUT = raw_response("408 Request Timeout", "request body not received in time")


def refusing_app(retry_after: int) -> Any:
    """The ASGI app of a connection past the cap: probes still 200, everything else 503."""
    plain = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
    busy = [*plain, (b"retry-after", str(retry_after).encode())]

    async def app(scope: dict[str, Any], _receive: Any, send: Any) -> None:
        probe = scope.get("raw_path", b"") in PROBES
        status, body = (200, b"ok") if probe else (503, FULL.encode())
        headers = plain if probe else busy
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


class HeadWithBody:
    """The transport as one request's cycle sees it: the response head (written while the
    response is started and not complete) waits for the next write and goes out with it.

    uvicorn writes the head and the body separately; with TCP_NODELAY each is a segment and a
    syscall. Nothing else is held: a `100 Continue` (written before the response starts) and
    the end of the message go straight through, and `close()` writes a held head first, so
    what the client receives, and when the connection closes, is unchanged."""

    __slots__ = ("cycle", "head", "transport")

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self.transport = transport
        self.cycle = cycle
        self.head: bytes | None = None

    def write(self, data: bytes) -> None:
        head = self.head
        if head is not None:
            self.head = None
            self.transport.write(head + data)
        elif self.cycle.response_started and not self.cycle.response_complete:
            self.head = data
        else:
            self.transport.write(data)

    def close(self) -> None:
        if self.head is not None:
            self.write(b"")
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()


def protocol_class(limits: Limits, guard: ConnectionGuard[Any]) -> type[H11Protocol]:
    """The protocol uvicorn builds per connection, bound to one process-wide guard."""
    refused_app = refusing_app(limits.retry_after_s)

    class GuardedProtocol(H11Protocol):
        """One connection, admitted by the guard, with a head/body deadline."""

        deadline: asyncio.TimerHandle | None = None
        waiting_for: object = None  # the h11 their_state the deadline is about
        counted = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            verdict, victim = guard.admit(self)
            if verdict == guard.DROP:
                transport.abort()
                return
            self.counted = True
            super().connection_made(transport)
            if victim is not None:
                victim.evict()
            head_s = limits.header_timeout_s
            if verdict == guard.REFUSE:
                self.app = refused_app
                head_s = min(head_s, REFUSED_HEAD_TIMEOUT_S)
            self.arm(h11.IDLE, head_s)

        def connection_lost(self, exc: Exception | None) -> None:
            if not self.counted:
                return
            self.counted = False
            self.disarm()
            guard.closed(self)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            state = self.conn.their_state
            if state is not self.waiting_for:
                self.disarm()
                if state is h11.SEND_BODY:
                    guard.busy(self)
                    self.arm(h11.SEND_BODY, limits.body_timeout_s)
                elif state is h11.IDLE:  # bytes of a head that is not complete yet
                    guard.waiting(self)
                    self.arm(h11.IDLE, limits.header_timeout_s)
                else:
                    guard.busy(self)

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            cycle = self.cycle
            if cycle is not before and cycle is not None:  # a new request; its task runs later
                cycle.transport = HeadWithBody(self.transport, cycle)  # type: ignore[assignment]

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.transport.is_closing():
                return
            state = self.conn.their_state
            if state is h11.IDLE:
                guard.waiting(self)  # uvicorn's keep-alive timer closes it when it stays idle
            elif state is h11.SEND_BODY and self.waiting_for is not h11.SEND_BODY:
                self.arm(h11.SEND_BODY, limits.body_timeout_s)  # draining an unread body

        def arm(self, state: object, seconds: float) -> None:
            self.disarm()
            self.waiting_for = state
            self.deadline = self.loop.call_later(seconds, self.expired)

        def disarm(self) -> None:
            if self.deadline is not None:
                self.deadline.cancel()
                self.deadline = None
            self.waiting_for = None

        def expired(self) -> None:
            """The head or body did not arrive in time: 408 unless a response already went
            out, then close (the app's pending read then sees a disconnect)."""
            self.deadline = None
            if self.transport.is_closing() or self.conn.their_state is not self.waiting_for:
                return
            replied = self.cycle is not None and self.cycle.response_started
            if self.waiting_for is h11.IDLE and self.conn.trailing_data[0]:
                self.transport.write(HEAD_TIMEOUT)
            elif self.waiting_for is h11.SEND_BODY and not replied:
                self.transport.write(BODY_TIMEOUT)
            self.transport.close()

        def evict(self) -> None:
            """Make room for a new connection: close this idle one (408 for a partial head)."""
            if self.transport is None or self.transport.is_closing():
                return
            if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:
                self.transport.write(HEAD_TIMEOUT)
            self.transport.close()

    return GuardedProtocol
