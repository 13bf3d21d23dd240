"""uvicorn's httptools protocol with the worker's connection limits (SPEC §7 "bounded by default").

uvicorn bounds neither open sockets nor how long a client may take to send a request: a
connection that never finishes its head, or trickles its body, is kept forever, and its
keep-alive timer is disarmed by the first byte. Here every connection is admitted by a
`ConnectionGuard` (evict the longest-idle one at the cap, 503 past it, drop past the ceiling)
and carries one deadline: its request head within `header_timeout_s` (408), its body within
`body_timeout_s` (408, or closed when a response already went out). Requests that arrive whole
in one read arm no timer, so the fast path costs a few attribute checks. What uvicorn's
httptools protocol does not bound either, bounded here: a request head larger than
`max_header_kib` (431, closed) and pipelined requests queued behind the one being served
(closed past `MAX_PIPELINED`). Each request's response head is held back and written with its
first body bytes (`HeadWithBody`): one `send()` and one TCP segment per reply instead of two
(#16). Imported only by `server.serve`, which has already imported uvicorn.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from greentic.worker.limits import ConnectionGuard, Limits

PROBES = frozenset({b"/livez", b"/readyz", b"/healthz", b"/health"})
REFUSED_HEAD_TIMEOUT_S = 2.0
MAX_PIPELINED = 16  # requests parsed and queued behind the one in progress, per connection
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


def head_too_large(max_kib: int) -> bytes:
    return raw_response(
        "431 Request Header Fields Too Large", f"request head is larger than {max_kib} KiB"
    )


class Phase(enum.Enum):
    """Where the client is in its current request, as the parser's callbacks report it."""

    IDLE = "idle"  # between requests: no byte of the next head yet
    HEAD = "head"  # a head begun and not complete
    BODY = "body"  # head complete, body still arriving
    DONE = "done"  # the whole request is in; the app has it


class HeadTooLarge(Exception):
    """Raised from a parser callback: stops parsing the rest of the read at once."""


class PipelineFull(Exception):
    """Raised from a parser callback when too many requests wait behind the current one."""


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


def protocol_class(limits: Limits, guard: ConnectionGuard[Any]) -> type[HttpToolsProtocol]:
    """The protocol uvicorn builds per connection, bound to one process-wide guard."""
    refused_app = refusing_app(limits.retry_after_s)
    max_head = limits.max_header_kib * 1024
    too_large = head_too_large(limits.max_header_kib)

    class GuardedProtocol(HttpToolsProtocol):
        """One connection, admitted by the guard, with a head/body deadline."""

        deadline: asyncio.TimerHandle | None = None
        waiting_for: Phase | None = None  # the phase the deadline is about
        phase = Phase.IDLE
        head_size = 0  # bytes of the current head the callbacks have seen
        head_reads = 0  # bytes of whole reads that arrived while the head was open
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
            self.arm(Phase.HEAD, head_s)

        def connection_lost(self, exc: Exception | None) -> None:
            if not self.counted:
                return
            self.counted = False
            self.disarm()
            guard.closed(self)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            self._unset_keepalive_if_required()
            if self.phase is Phase.HEAD:
                self.head_reads += len(data)
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                if self.cycle is not None:  # no protocol switch here: served, then closed
                    self.cycle.keep_alive = False
            except httptools.HttpParserCallbackError as exc:
                self.refuse(exc.__context__)
                return
            except httptools.HttpParserError:
                self.send_400_response("Invalid HTTP request received.")
                return
            if self.phase is Phase.HEAD and self.head_reads > max_head:
                self.refuse(HeadTooLarge())
                return
            self.follow()

        def refuse(self, reason: BaseException | None) -> None:
            """A head too large gets its 431; a flood of pipelined requests is cut off."""
            if self.transport.is_closing():
                return
            if isinstance(reason, HeadTooLarge):
                self.transport.write(too_large)
            elif not isinstance(reason, PipelineFull):  # e.g. a URL uvicorn cannot parse
                self.send_400_response("Invalid HTTP request received.")
                return
            self.transport.close()

        def follow(self) -> None:
            """Move the deadline to what the connection now waits for: the head's deadline
            runs from the connection's start (or the first byte after a keep-alive pause),
            the body's from the end of its head."""
            phase = self.phase
            if phase is Phase.DONE and self.cycle.response_complete and not self.pipeline:
                self.rest()  # the rest of an unread body came in after its early answer
                return
            wait = Phase.HEAD if phase is Phase.IDLE else phase
            if wait is self.waiting_for or phase is Phase.IDLE:
                return
            self.disarm()
            if phase is Phase.HEAD:  # bytes of a head that is not complete yet
                guard.waiting(self)
                self.arm(Phase.HEAD, limits.header_timeout_s)
                return
            guard.busy(self)
            if phase is Phase.BODY:
                self.arm(Phase.BODY, limits.body_timeout_s)

        def on_message_begin(self) -> None:
            if len(self.pipeline) >= MAX_PIPELINED:
                raise PipelineFull
            super().on_message_begin()
            self.phase = Phase.HEAD
            self.head_size = self.head_reads = 0

        def on_url(self, url: bytes) -> None:
            self.grow(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self.grow(len(name) + len(value) + 4)
            super().on_header(name, value)

        def grow(self, size: int) -> None:
            self.head_size += size
            if self.head_size > max_head:
                raise HeadTooLarge

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self.phase = Phase.BODY
            cycle = self.cycle  # its task runs later: it writes through the view from the start
            # A HEAD reply has no body write to carry its head: it is written as it comes.
            if cycle.transport is self.transport and self.scope["method"] != "HEAD":
                cycle.transport = HeadWithBody(self.transport, cycle)  # type: ignore[assignment]

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self.phase = Phase.DONE

        def on_response_complete(self) -> None:
            queued = bool(self.pipeline)  # then uvicorn starts the next one now
            super().on_response_complete()
            if self.transport.is_closing() or queued:
                return
            if self.phase is Phase.DONE:
                self.rest()
            elif self.phase is Phase.BODY and self.waiting_for is not Phase.BODY:
                self.arm(Phase.BODY, limits.body_timeout_s)  # draining an unread body

        def rest(self) -> None:
            """Between requests: evictable, and closed by uvicorn's keep-alive timer when it
            stays idle (armed here when the last bytes came after the response, whose
            keep-alive timer the read cancelled)."""
            self.phase = Phase.IDLE
            self.disarm()
            guard.waiting(self)
            if self.timeout_keep_alive_task is None:
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.timeout_keep_alive, self.timeout_keep_alive_handler
                )

        def arm(self, phase: Phase, seconds: float) -> None:
            self.disarm()
            self.waiting_for = phase
            self.deadline = self.loop.call_later(seconds, self.expired)

        def disarm(self) -> None:
            if self.deadline is not None:
                self.deadline.cancel()
                self.deadline = None
            self.waiting_for = None

        def expired(self) -> None:
            """The head or body did not arrive in time: 408 unless a response already went
            out or the client never sent a byte, then close (the app's pending read then
            sees a disconnect)."""
            self.deadline = None
            if self.transport.is_closing():
                return
            phase, replied = self.phase, self.cycle is not None and self.cycle.response_started
            if self.waiting_for is Phase.HEAD and phase in (Phase.IDLE, Phase.HEAD):
                if phase is Phase.HEAD:
                    self.transport.write(HEAD_TIMEOUT)
            elif self.waiting_for is Phase.BODY and phase is Phase.BODY:
                if not replied:
                    self.transport.write(BODY_TIMEOUT)
            else:
                return
            self.transport.close()

        def evict(self) -> None:
            """Make room for a new connection: close this idle one (408 for a partial head)."""
            if self.transport is None or self.transport.is_closing():
                return
            if self.phase is Phase.HEAD:
                self.transport.write(HEAD_TIMEOUT)
            self.transport.close()

    return GuardedProtocol
