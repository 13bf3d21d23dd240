"""The worker's own replies (greentic.worker.response) send what starlette's `Response` sent
for the same arguments (the worker dropped starlette to boot faster, #16): status, header
names, order and values, body. And the boot's GC switch: off while booting, on when serving."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from greentic.cli.start import cli
from greentic.worker import server
from greentic.worker.limits import Gauge
from greentic.worker.response import JsonResponse, Response

CASES: list[tuple[Any, int, dict[str, str] | None, str | None]] = [
    ("ok", 200, None, "text/plain"),
    ("busy", 503, {"Retry-After": "1", "Connection": "close"}, "text/plain"),
    (b"<html></html>", 200, {"X-Frame-Options": "DENY"}, "text/html; charset=utf-8"),
    ("only POST", 405, {"Allow": "POST"}, "text/plain"),
    ("é ünïcode", 400, None, "text/plain"),
    ("", 204, None, "text/plain"),
    ("x", 200, {"Content-Type": "application/x-custom"}, "text/plain"),
    ("x", 200, {"Content-Length": "1"}, None),
    (b"raw", 200, None, None),
]


def sent(response: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        messages.append(dict(message))

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    asyncio.run(response({"type": "http"}, receive, send))
    return messages


@pytest.mark.parametrize(("content", "status", "headers", "media_type"), CASES)
def test_a_reply_is_sent_as_starlette_sent_it(
    content: Any, status: int, headers: dict[str, str] | None, media_type: str | None
) -> None:
    starlette = pytest.importorskip("starlette.responses")
    theirs = starlette.Response(content, status_code=status, headers=headers, media_type=media_type)
    ours = Response(content, status_code=status, headers=headers, media_type=media_type)
    assert sent(ours) == sent(theirs)


def test_a_json_reply_has_its_type_and_length() -> None:
    assert sent(JsonResponse(b'{"a":1}', 201)) == [
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"7")],
        },
        {"type": "http.response.body", "body": b'{"a":1}'},
    ]


def test_a_boot_that_fails_leaves_the_gc_on(tmp_path: Path) -> None:
    assert gc.isenabled()
    result = CliRunner().invoke(cli, ["start", "--env", "absent", "--store-root", str(tmp_path)])
    assert result.exit_code == 1
    assert gc.isenabled()


def test_serving_turns_the_gc_back_on_with_the_boot_frozen() -> None:
    gc.disable()
    frozen = gc.get_freeze_count()

    async def serve() -> None:
        server.serving(Gauge(1))

    try:
        asyncio.run(serve())
        assert gc.isenabled()
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
        gc.enable()
