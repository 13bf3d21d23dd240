"""`HeadWithBody`: a reply's head goes out with its first body bytes, nothing else is held
(#16: one send per small reply instead of two)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from greentic.worker.connections import HeadWithBody, protocol_class
from greentic.worker.limits import ConnectionCaps, ConnectionGuard, Limits


class Wire:
    """A transport that records each write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
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


@pytest.mark.parametrize("method", [b"POST", b"HEAD"])
def test_a_served_reply_is_one_write(method: bytes) -> None:
    """Through the real protocol and uvicorn's cycle: head, body and nothing held after."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        headers = [(b"content-length", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"hello"})

    async def serve() -> list[bytes]:
        import uvicorn
        from uvicorn.server import ServerState

        config = uvicorn.Config(app, lifespan="off", http="h11", log_level="warning")
        config.load()
        guard: ConnectionGuard[Any] = ConnectionGuard(ConnectionCaps(serve=4, ceiling=8))
        proto = protocol_class(Limits(), guard)(
            config=config, server_state=ServerState(), app_state={}
        )
        wire = Wire()
        proto.connection_made(wire)  # type: ignore[arg-type]
        proto.data_received(method + b" / HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")
        for _ in range(5):
            await asyncio.sleep(0)
        proto.connection_lost(None)
        return wire.writes

    writes = [w for w in asyncio.run(serve()) if w]
    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[0].endswith(b"\r\n\r\nhello" if method == b"POST" else b"\r\n\r\n")
