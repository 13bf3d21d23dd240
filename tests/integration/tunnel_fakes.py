"""Tiny fakes for the tunnel worker tests: a fake `cloudflared` executable and a Bot API.

`fake_cloudflared(dir)` writes an executable script run directly by the worker; it records its
argv and pid to `$FAKE_CF_RECORD` and behaves per `$FAKE_CF_MODE`: `ok` (prints a quick-tunnel
banner with a trycloudflare URL on stderr, then waits for SIGTERM), `exit` (fails at once),
`silent` (never prints a URL). `FakeBotApi` is a threaded loopback server that records every
call (method, token, JSON body) and answers like Telegram: 401 for an unknown token, a scripted
number of 400 `Failed to resolve host` answers to setWebhook, else `{"ok": true}`.
"""

from __future__ import annotations

import http.server
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.closing import StopOnExit

TUNNEL_URL = "https://fake-quick-words.trycloudflare.com"

SCRIPT = """#!{python}
import json, os, signal, sys, time
record = os.environ.get("FAKE_CF_RECORD")
if record:
    with open(record, "w") as fh:
        json.dump({{"argv": sys.argv[1:], "pid": os.getpid()}}, fh)
mode = os.environ.get("FAKE_CF_MODE", "ok")
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("INF Thank you for trying Cloudflare Tunnel.", file=sys.stderr, flush=True)
if mode == "exit":
    print("ERR failed to request quick Tunnel: connection refused", file=sys.stderr, flush=True)
    sys.exit(3)
if mode == "ok":
    print("INF |  {url}  |", file=sys.stderr, flush=True)
    print("INF Registered tunnel connection connIndex=0", file=sys.stderr, flush=True)
while True:
    time.sleep(0.5)
"""


def fake_cloudflared(directory: Path) -> Path:
    """An executable fake cloudflared in `directory`."""
    path = directory / "cloudflared"
    path.write_text(SCRIPT.format(python=sys.executable, url=TUNNEL_URL))
    path.chmod(0o755)
    return path


def alive(pid: int) -> bool:
    """Whether `pid` runs and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


@dataclass(frozen=True)
class Call:
    """One recorded Bot API call."""

    token: str
    method: str
    body: Any


class FakeBotApi(StopOnExit):
    """Example: `with FakeBotApi({"123:abc"}) as api: …; api.calls_of("setWebhook")`."""

    def __init__(self, tokens: set[str], *, resolve_failures: int = 0) -> None:
        self.tokens = tokens
        self.resolve_failures = resolve_failures
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def calls_of(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 20.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls_of(method)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {count}x {method} within {timeout}s; calls: {self.calls}")

    def answer(self, token: str, method: str, body: Any) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls.append(Call(token, method, body))
            if token not in self.tokens:
                return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            if method == "setWebhook" and self.resolve_failures > 0:
                self.resolve_failures -= 1
                return 400, {
                    "ok": False,
                    "error_code": 400,
                    "description": "Bad Request: bad webhook: Failed to resolve host: "
                    "Name or service not known",
                }
        return 200, {"ok": True, "result": True}

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                _, bot, method = self.path.split("/", 2)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("latin-1")
                status, doc = api.answer(bot.removeprefix("bot"), method, body)
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
