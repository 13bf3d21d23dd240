"""The worker's connection protocol: a reply's head goes out with its first body bytes (#16:
one send per small reply instead of two), and what httptools does not bound is bounded here
(a head past `max_header_kib`, pipelined requests queued behind the one being served)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from greentic.worker.connections import (
    CHUNKED_UPGRADE,
    HOST_REQUIRED,
    MAX_PIPELINED,
    HeadWithBody,
    protocol_class,
    too_large,
)
from greentic.worker.limits import ConnectionCaps, ConnectionGuard, Limits


class Wire:
    """A transport that records each write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.closed_by_server = False  # closed before the client went away (`exchange`)
        self.after: Any = None

    def write(self, data: bytes) -> None:
        if not self.closed:  # as a socket transport: nothing goes out after close()
            self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name in ("peername", "sockname") else default

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


def held(started: bool = False) -> tuple[HeadWithBody, Wire, Any]:
    wire = Wire()
    cycle = SimpleNamespace(response_started=started, response_complete=False)
    return HeadWithBody(wire, cycle), wire, cycle  # type: ignore[arg-type]


def test_head_goes_out_with_the_body_in_one_write() -> None:
    view, wire, cycle = held(started=True)
    view.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert wire.writes == []
    view.write(b"body")
    cycle.response_complete = True
    view.write(b"")  # uvicorn's end of message for a content-length body
    assert wire.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody", b""]


def test_continue_before_the_response_is_not_held() -> None:
    view, wire, _ = held(started=False)
    view.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert wire.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]


def test_close_writes_a_held_head_first() -> None:
    view, wire, _ = held(started=True)
    view.write(b"head")
    view.close()
    assert wire.writes == [b"head"]
    assert wire.closed and view.is_closing()


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    headers = [(b"content-length", b"5")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"hello"})


def exchange(
    *reads: bytes | Callable[[], None], limits: Limits | None = None, app: Any = echo_app
) -> Wire:
    """Feed `reads` to the real protocol (uvicorn's cycle, the guard) and let the app run;
    `wire.after` is the protocol's state after the last read, before the client leaves."""

    async def serve() -> Wire:
        import uvicorn
        from uvicorn.server import ServerState

        config = uvicorn.Config(app, lifespan="off", log_level="warning")
        config.load()
        guard: ConnectionGuard[Any] = ConnectionGuard(ConnectionCaps(serve=4, ceiling=8))
        proto = protocol_class(limits or Limits(), guard)(
            config=config, server_state=ServerState(), app_state={}
        )
        wire = Wire()
        proto.connection_made(wire)  # type: ignore[arg-type]
        for data in reads:
            if callable(data):  # a step of the test between reads (e.g. release an app)
                data()
            elif not wire.closed:
                proto.data_received(data)
            for _ in range(100):  # enough turns for a queue of pipelined replies
                await asyncio.sleep(0)
        wire.closed_by_server = wire.closed
        wire.after = SimpleNamespace(
            phase=proto.phase,
            deadline=proto.deadline is not None,
            keep_alive=proto.timeout_keep_alive_task is not None,
        )
        proto.connection_lost(None)
        return wire

    return asyncio.run(serve())


@pytest.mark.parametrize("method", [b"POST", b"HEAD"])
def test_a_served_reply_is_one_write(method: bytes) -> None:
    """Through the real protocol and uvicorn's cycle: head, body and nothing held after."""
    wire = exchange(method + b" / HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")
    writes = [w for w in wire.writes if w]
    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[0].endswith(b"\r\n\r\nhello" if method == b"POST" else b"\r\n\r\n")
    assert not wire.closed_by_server


GET = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"


def test_a_head_over_the_limit_in_one_read_is_a_431() -> None:
    """httptools buffers a head whole; the callbacks' count stops it at the limit."""
    pad = b"x-pad: " + b"y" * 600 + b"\r\n"
    wire = exchange(
        b"GET / HTTP/1.1\r\nhost: x\r\n" + pad * 30 + b"\r\n", limits=Limits(max_header_kib=16)
    )
    assert wire.writes[0].startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert wire.writes[0].endswith(b"request head is larger than 16 KiB")
    assert wire.closed_by_server and len(wire.writes) == 1  # no app ran


def test_a_head_growing_over_reads_is_a_431() -> None:
    """One header value trickled in pieces: never a complete header for a callback to count."""
    pieces = [b"GET / HTTP/1.1\r\nhost: x\r\nx-pad: "] + [b"y" * 1024] * 8
    wire = exchange(*pieces, limits=Limits(max_header_kib=4))
    assert wire.writes == [wire.writes[0]]
    assert wire.writes[0].startswith(b"HTTP/1.1 431 ") and wire.closed_by_server


def test_a_head_under_the_limit_is_served() -> None:
    pad = b"x-pad: " + b"y" * 600 + b"\r\n"
    wire = exchange(
        b"GET / HTTP/1.1\r\nhost: x\r\n" + pad * 20 + b"\r\n", limits=Limits(max_header_kib=16)
    )
    assert wire.writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and not wire.closed_by_server


def test_pipelined_requests_are_answered_in_order_up_to_the_queue_limit() -> None:
    wire = exchange(GET * 5)
    assert [w.split(b"\r\n", 1)[0] for w in wire.writes if w] == [b"HTTP/1.1 200 OK"] * 5
    assert not wire.closed_by_server


def test_a_flood_of_pipelined_requests_is_cut_off_after_the_replies_due() -> None:
    """One read of a few thousand tiny requests would otherwise queue a cycle for each: the
    one served and the queued ones are answered, then the connection closes."""
    wire = exchange(GET * 2000)
    assert wire.closed_by_server
    replies = [w for w in wire.writes if w]
    assert len(replies) == MAX_PIPELINED + 1
    assert all(r.startswith(b"HTTP/1.1 200 OK\r\n") for r in replies)


def test_an_unparseable_request_is_a_400() -> None:
    wire = exchange(b"GET / HTTP/1.1\r\nbad header\r\n\r\n")
    assert wire.writes[0].startswith(b"HTTP/1.1 400 ") and wire.closed_by_server


def test_an_upgrade_request_is_served_then_closed() -> None:
    """No protocol switch here (no websockets): the request is answered, the connection
    closes instead of staying in a parser that waits for another protocol."""
    wire = exchange(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n")
    assert wire.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close\r\n" in wire.writes[0] and wire.closed_by_server


async def early_answer_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers before the body is in (as the worker's 404 for an unbound path does)."""
    headers = [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": b"no"})


def test_a_body_finished_after_an_early_answer_leaves_the_connection_idle_not_stuck() -> None:
    """The rest of the body arrives after the answer: the connection is idle again, under a
    keep-alive timer and evictable, not counted busy with no timer forever."""
    head = b"POST /nowhere HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n12345"
    wire = exchange(head, b"67890", app=early_answer_app)
    assert wire.writes[0].startswith(b"HTTP/1.1 404 ")
    assert not wire.closed_by_server
    assert wire.after.phase.name == "IDLE" and wire.after.keep_alive


def test_a_served_request_leaves_the_connection_under_its_keep_alive_timer() -> None:
    wire = exchange(GET)
    assert wire.after.phase.name == "IDLE" and wire.after.keep_alive and not wire.after.deadline


def test_a_partial_head_keeps_the_deadline_from_the_connection_start() -> None:
    wire = exchange(b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: ")
    assert wire.after.phase.name == "HEAD" and wire.after.deadline and not wire.writes


async def read_body(receive: Any) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    return body


async def body_echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = await read_body(receive)
    headers = [(b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def gated(gate: asyncio.Event) -> Any:
    """An app whose `/slow` waits for `gate`: a reply still due while more requests arrive."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == "/slow":
            await gate.wait()
        await echo_app(scope, receive, send)

    return app


CHUNKED = b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
SLOW = b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n"


def test_trailers_growing_over_reads_are_a_431() -> None:
    """httptools buffers one trailer value across reads: counted as reads with no body."""
    reads = [CHUNKED + b"2\r\n{}\r\n0\r\nx-t: "] + [b"a" * 1024] * 8
    wire = exchange(*reads, limits=Limits(max_header_kib=4), app=body_echo_app)
    assert wire.writes == [too_large("trailers are", 4)] and wire.closed_by_server


def test_a_chunked_body_with_trailers_split_over_reads_is_served() -> None:
    reads = [CHUNKED + b"2\r\n{}", b"\r\n3\r\n", b"abc\r\n0\r\n", b"x-t: 1\r\n", b"\r\n"]
    wire = exchange(*reads, app=body_echo_app)
    assert wire.writes[0].endswith(b"\r\n\r\n{}abc") and not wire.closed_by_server


def test_a_bare_line_break_after_a_reply_keeps_the_keep_alive_timer() -> None:
    wire = exchange(GET, b"\r\n")
    assert wire.after.phase.name == "IDLE" and wire.after.keep_alive


def test_a_partial_head_behind_a_reply_still_due_has_no_deadline_yet() -> None:
    """The connection is busy with the first request: not evictable, no head deadline."""
    gate = asyncio.Event()
    wire = exchange(SLOW + b"GET /b HTTP/1.1\r\nho", app=gated(gate))
    assert wire.writes == [] and not wire.after.deadline
    assert wire.after.phase.name == "HEAD"


def test_the_head_deadline_of_a_pipelined_request_starts_when_it_is_served() -> None:
    gate = asyncio.Event()
    wire = exchange(SLOW + b"GET /b HTTP/1.1\r\nho", gate.set, app=gated(gate))
    assert wire.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert wire.after.phase.name == "HEAD" and wire.after.deadline and not wire.after.keep_alive


def test_a_bad_pipelined_request_is_refused_after_the_reply_due_before_it() -> None:
    gate = asyncio.Event()
    bad = b"GET / HTTP/1.1\r\nbad header\r\n\r\n"
    wire = exchange(SLOW + bad, lambda: None, gate.set, app=gated(gate))
    assert [w.split(b"\r\n", 1)[0] for w in wire.writes if w] == [
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 400 Bad Request",
    ]
    assert wire.closed_by_server


@pytest.mark.parametrize("split", [False, True])
def test_an_upgrade_request_with_a_body_is_served_with_its_body(split: bool) -> None:
    """llhttp skips the body of an Upgrade request; it is delivered here (h2c clients send
    `Upgrade` with their POSTs)."""
    head = b"POST / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: h2c\r\n"
    body = b'{"text":"hi"}'
    reads = [head + b"content-length: 13\r\n\r\n" + body]
    if split:
        reads = [reads[0][:-8], reads[0][-8:]]
    wire = exchange(*reads, app=body_echo_app)
    assert wire.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert wire.writes[0].endswith(b"\r\n\r\n" + body) and wire.closed_by_server


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n",
    ],
    ids=["no host", "two hosts"],
)
def test_an_http11_request_needs_exactly_one_host(head: bytes) -> None:
    wire = exchange(head)
    assert wire.writes == [HOST_REQUIRED] and wire.closed_by_server


def test_an_http10_request_may_omit_host() -> None:
    wire = exchange(b"GET / HTTP/1.0\r\n\r\n")
    assert wire.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")


def test_the_last_queued_reply_goes_out_before_a_flood_is_cut_off() -> None:
    """The reply being served and every queued one, not one fewer, then the close."""
    gate = asyncio.Event()
    wire = exchange(SLOW + GET * 40, gate.set, app=gated(gate))
    replies = [w for w in wire.writes if w]
    assert len(replies) == MAX_PIPELINED + 1 and wire.closed_by_server


@pytest.mark.parametrize("body", [b"", b"12345"])
def test_a_pipelined_upgrade_request_is_answered(body: bytes) -> None:
    gate = asyncio.Event()
    upgrade = (
        b"POST /u HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: h2c\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(body), body)
    )
    wire = exchange(SLOW + upgrade, gate.set, app=gated(gate))
    replies = [w for w in wire.writes if w]
    assert [r.split(b"\r\n", 1)[0] for r in replies] == [b"HTTP/1.1 200 OK"] * 2
    assert wire.closed_by_server


def test_a_request_refused_after_its_early_answer_gets_no_second_answer() -> None:
    """The app answered on the first body bytes; trailers then go over the limit: the
    connection closes without a 431 after the 200 (one request, one answer)."""
    reads = [CHUNKED + b"2\r\n{}\r\n0\r\nx-t: "] + [b"a" * 1024] * 8
    wire = exchange(*reads, limits=Limits(max_header_kib=4), app=echo_app)
    replies = [w for w in wire.writes if w]
    assert len(replies) == 1 and replies[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert wire.closed_by_server


def test_an_upgrade_request_with_a_chunked_body_is_a_400_and_nothing_else() -> None:
    head = b"POST / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: h2c\r\n"
    wire = exchange(head + b"transfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    assert wire.writes == [CHUNKED_UPGRADE] and wire.closed_by_server
