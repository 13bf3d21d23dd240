"""uvicorn's httptools protocol with the worker's connection limits (SPEC §7 "bounded by default").

Size: one connection's state machine over the parser's callbacks, kept whole, ~410 lines.

uvicorn bounds neither open sockets nor how long a client may take to send a request: a
connection that never finishes its head, or trickles its body, is kept forever, and its
keep-alive timer is disarmed by the first byte. Here every connection is admitted by a
`ConnectionGuard` (evict the longest-idle one at the cap, 503 past it, drop past the ceiling)
and carries one deadline: its request head within `header_timeout_s` (408), its body within
`body_timeout_s` (408, or closed when a response already went out); a request whole in one
read arms no timer. Bounded here, not by httptools: a head or trailers over `max_header_kib`
(431), requests queued behind the one served (`MAX_PIPELINED`; a pipelined request is refused
only after the replies due before it, its deadlines start when it is served), one Host per
HTTP/1.1 request (as h11 required); an `Upgrade` request is served as plain HTTP (its body
delivered), then closed. A reply's head goes out with its first body bytes (`HeadWithBody`):
one `send()` per reply (#16). Imported only by `server.serve`, after uvicorn.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import httptools
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
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


BAD_REQUEST = raw_response("400 Bad Request", "Invalid HTTP request received.")
HOST_REQUIRED = raw_response("400 Bad Request", "an HTTP/1.1 request needs exactly one Host header")
CHUNKED_UPGRADE = raw_response(
    "400 Bad Request", "protocol upgrade with a chunked body is not supported; send it plainly"
)


def too_large(what: str, max_kib: int) -> bytes:
    return raw_response(
        "431 Request Header Fields Too Large", f"request {what} larger than {max_kib} KiB"
    )


class Phase(enum.Enum):
    """Where the client is in its newest request, as the parser's callbacks report it."""

    IDLE = "idle"  # between requests: no byte of the next head yet
    HEAD = "head"  # a head begun and not complete
    BODY = "body"  # head complete, body (or trailers) still arriving
    DONE = "done"  # the whole request is in; the app has it


class Refused(Exception):
    """Raised from a parser callback to stop parsing at once; `answer` is what the client
    gets (None: the connection just closes after the replies already due)."""

    def __init__(self, answer: bytes | None) -> None:
        super().__init__()
        self.answer = answer


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
    head_too_large = too_large("head is", limits.max_header_kib)
    trailers_too_large = too_large("trailers are", limits.max_header_kib)

    class GuardedProtocol(HttpToolsProtocol):
        """One connection, admitted by the guard, with a head/body deadline."""

        deadline: asyncio.TimerHandle | None = None
        waiting_for: Phase | None = None  # the phase the deadline is about
        phase = Phase.IDLE
        current: RequestResponseCycle | None = None  # the newest request's, once its head is in
        head_size = 0  # bytes of the newest head (and trailers) the callbacks have seen
        head_reads = 0  # bytes of whole reads that arrived while that head was open
        stalled = 0  # bytes of whole reads in a body that delivered none of it (trailers)
        progressed = False  # a read delivered body bytes
        hosts = 0
        upgrade_left = 0  # body bytes of an Upgrade request llhttp skipped, still to deliver
        finished = False  # parsing is over: a refusal pending, or an Upgrade request served
        refusal: bytes | None = None
        refused: RequestResponseCycle | None = None  # the request a refusal answers, if it has one
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
            if self.finished:  # nothing more is parsed on this connection
                if self.upgrade_left:
                    self.upgrade_body(data)
                    self.follow()
                return
            before = self.phase
            if before is Phase.HEAD:
                self.head_reads += len(data)
            self.progressed = False
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade as exc:
                self.upgraded(data[exc.args[0] if exc.args else len(data) :])
            except httptools.HttpParserCallbackError as exc:
                reason = exc.__context__
                self.refuse(reason.answer if isinstance(reason, Refused) else BAD_REQUEST)
                return
            except httptools.HttpParserError:
                self.refuse(BAD_REQUEST)
                return
            if self.phase is not Phase.IDLE:  # a request began: its deadline, not keep-alive
                self._unset_keepalive_if_required()
            if self.over_limits(before, len(data)):
                return
            self.follow()

        def over_limits(self, before: Phase, size: int) -> bool:
            """A head, or trailers, grown past the limit over several reads (refused)."""
            phase = self.phase
            if phase is Phase.HEAD and self.head_reads > max_head:
                self.refuse(head_too_large)
                return True
            if phase is Phase.BODY and before is Phase.BODY and not self.progressed:
                self.stalled += size
                if self.stalled > max_head:
                    self.refuse(trailers_too_large)
                    return True
            elif self.progressed:
                self.stalled = 0
            return False

        def reply_due(self, besides: RequestResponseCycle | None) -> bool:
            """Whether a request other than `besides` still waits for its reply. Besides the
            newest (`current`): an earlier one is being served, so the newest gets no deadline
            yet. Besides the refused one (its app does not answer): the connection may not
            close yet."""
            cycle = self.cycle
            return bool(self.pipeline) or (
                cycle is not None and cycle is not besides and not cycle.response_complete
            )

        def refuse(self, answer: bytes | None) -> None:
            """Stop parsing; answer (or just close) now, or after the replies already due."""
            if self.transport.is_closing():
                return
            refused = self.current if self.phase is Phase.BODY else None
            if refused is not None:  # its app, started or queued, sees a client gone
                if refused.response_started:
                    answer = None  # it has its answer already: only the close is left
                refused.disconnected = True
                refused.message_event.set()
            self.refused = refused
            self.finished, self.refusal, self.upgrade_left = True, answer, 0
            if self.reply_due(besides=self.refused):
                self.disarm()
                guard.busy(self)
                return
            self.close_with(answer)

        def close_with(self, answer: bytes | None) -> None:
            if answer is not None:
                self.transport.write(answer)
            self.transport.close()

        def upgraded(self, rest: bytes) -> None:
            """No protocol switch here: the request is served as plain HTTP, then the connection
            closes. llhttp skipped its body; a declared length is delivered from `rest`."""
            cycle = self.cycle
            cycle.keep_alive = False
            self.finished = True
            framing = dict(cycle.scope["headers"])
            if b"transfer-encoding" in framing:
                self.phase = Phase.BODY  # refused in its body: its app gets no say
                self.refuse(CHUNKED_UPGRADE)
                return
            length = framing.get(b"content-length", b"0")
            self.upgrade_left = int(length) if length.isdigit() else 0
            if self.upgrade_left:
                cycle.more_body = True
                self.phase = Phase.BODY
                self.upgrade_body(rest)

        def upgrade_body(self, data: bytes) -> None:
            cycle, take = self.cycle, data[: self.upgrade_left]
            self.upgrade_left -= len(take)
            if not cycle.response_complete:
                cycle.body += take
                if len(cycle.body) > HIGH_WATER_LIMIT:
                    self.flow.pause_reading()
            if not self.upgrade_left:
                cycle.more_body = False
                self.phase = Phase.DONE
            cycle.message_event.set()

        def follow(self) -> None:
            """Move the deadline to what the connection now waits for: the head's deadline
            runs from the connection's start (or the first byte after a keep-alive pause),
            the body's from the end of its head; none while an earlier reply is due."""
            phase = self.phase
            if (self.finished and not self.upgrade_left) or self.reply_due(besides=self.current):
                self.disarm()
                guard.busy(self)
                return
            if phase is Phase.DONE:
                if self.cycle.response_complete:  # the rest of a body came after its answer
                    self.rest()
                else:
                    self.disarm()
                    guard.busy(self)
                return
            if phase is Phase.IDLE or phase is self.waiting_for:
                return
            self.disarm()
            if phase is Phase.HEAD:  # bytes of a head that is not complete yet
                guard.waiting(self)
                self.arm(Phase.HEAD, limits.header_timeout_s)
            else:
                guard.busy(self)
                self.arm(Phase.BODY, limits.body_timeout_s)

        def on_message_begin(self) -> None:
            if len(self.pipeline) >= MAX_PIPELINED:
                raise Refused(None)
            super().on_message_begin()
            self.phase, self.current = Phase.HEAD, None
            self.head_size = self.head_reads = self.stalled = self.hosts = 0

        def on_url(self, url: bytes) -> None:
            self.grow(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self.grow(len(name) + len(value) + 4)
            if len(name) == 4 and name.lower() == b"host" and self.phase is Phase.HEAD:
                self.hosts += 1
            super().on_header(name, value)

        def grow(self, size: int) -> None:
            self.head_size += size
            if self.head_size > max_head:
                raise Refused(head_too_large if self.phase is Phase.HEAD else trailers_too_large)

        def on_headers_complete(self) -> None:
            if self.hosts > 1 or (self.hosts == 0 and self.parser.get_http_version() == "1.1"):
                raise Refused(HOST_REQUIRED)
            super().on_headers_complete()
            self.phase = Phase.BODY
            cycle = self.current = self.cycle  # its task runs later: it writes through the view
            # A HEAD reply has no body write to carry its head: it is written as it comes.
            if cycle.transport is self.transport and self.scope["method"] != "HEAD":
                cycle.transport = HeadWithBody(self.transport, cycle)  # type: ignore[assignment]

        def on_body(self, body: bytes) -> None:
            self.progressed = True
            super().on_body(body)

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self.phase = Phase.DONE

        def on_response_complete(self) -> None:
            super().on_response_complete()  # starts the next queued request, if any
            if self.transport.is_closing():
                return
            if self.finished and not self.upgrade_left and not self.reply_due(besides=self.refused):
                self.close_with(self.refusal)
                return
            if self.phase is Phase.HEAD or self.phase is Phase.BODY:
                self._unset_keepalive_if_required()  # its own deadline applies
            self.follow()

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
