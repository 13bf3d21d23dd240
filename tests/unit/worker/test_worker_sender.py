"""botapi.Sender: replies go out through one reused HTTP client, bounded, never raising."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from greentic.worker import botapi
from greentic.worker.redact import Redactor

TOKEN = "123:secret-token"


class _BotApi(BaseHTTPRequestHandler):
    """Answers every call `ok`, recording (method, client port) so reuse is visible."""

    protocol_version = "HTTP/1.1"  # keep-alive, so a reused client shows as one port
    calls: ClassVar[list[tuple[str, int]]] = []
    done: ClassVar[threading.Semaphore] = threading.Semaphore(0)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        type(self).calls.append((self.path.rsplit("/", 1)[-1], self.client_address[1]))
        body = json.dumps({"ok": True, "result": {}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        type(self).done.release()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def bot_api() -> Iterator[str]:
    _BotApi.calls = []
    _BotApi.done = threading.Semaphore(0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BotApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _sender(base: str, warnings: list[str]) -> botapi.Sender:
    secrets = botapi.Secrets(get=lambda ref: TOKEN, path=Path("/dev/null"))
    return botapi.Sender(secrets, base, Redactor(), warnings.append)


def test_replies_reuse_one_connection(bot_api: str) -> None:
    warnings: list[str] = []
    sender = _sender(bot_api, warnings)
    try:
        for n in range(6):
            sender.send("secret://local/t/_/messaging-telegram/telegram_bot_token", n, ["hi"])
            assert _BotApi.done.acquire(timeout=10)
    finally:
        sender.pool.shutdown(wait=True)  # the last reply is read before the client closes
        sender.close()
    assert [method for method, _ in _BotApi.calls] == ["sendMessage"] * 6
    # one pooled client: at most one keep-alive connection per sending thread (2), where a
    # client per call would open six
    assert len({port for _, port in _BotApi.calls}) <= 2
    assert warnings == []


def test_replies_beyond_the_bound_are_dropped_with_a_warning(
    bot_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(botapi, "MAX_PENDING_SENDS", 1)
    warnings: list[str] = []
    sender = _sender(bot_api, warnings)
    gate = threading.Event()
    sender.pool.submit(gate.wait, 10)  # both pool threads busy: queued replies keep their slot
    sender.pool.submit(gate.wait, 10)
    try:
        sender.send("ref", 1, ["first"])
        sender.send("ref", 2, ["second"])
    finally:
        gate.set()
        assert _BotApi.done.acquire(timeout=10)
        sender.pool.shutdown(wait=True)  # the last reply is read before the client closes
        sender.close()
    assert warnings == ["dropping a Telegram reply to chat 2: too many replies pending"]
