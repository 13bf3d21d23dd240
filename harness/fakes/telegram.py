#!/usr/bin/env python3
"""A fake Telegram Bot API: `/bot<token>/<method>` on a real loopback HTTP server.

Size: one standalone script (it is copied alone into containers), so it is not split.

It knows its bots' tokens (`$GTC_FAKE_TELEGRAM_TOKENS`, a JSON object label → token, never
argv; or `$GTC_FAKE_TELEGRAM_TOKEN_SHA256`, label → sha256 hex of the token, so a pod spec
never holds one) and answers an unknown token 401 as Telegram does. It records every call
with the LABEL of the token used (never the token), keeps one webhook per bot (`setWebhook`,
`getWebhookInfo`, `deleteWebhook`), answers `sendMessage`/`getMe`, can fail the next N
`setWebhook` calls (or those of the next S seconds) with the real "Failed to resolve host"
answer, and DELIVERS an Update to the registered webhook through the fake cloudflared edge
(`$GTC_FAKE_EDGE_DIR/<host>.json`, on loopback; or a route the harness set with
`/_fake/route {host, address, port}` — an edge in another container of the same docker
network, as harness.docker.fakenet runs it). The harness drives it through `/_fake/…` (see
harness.fakes.bot_api). Stdlib only, so it also runs in a container from the runtime image.
Logs never carry a token or a body (secret_token).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import http.client
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKENS_ENV = "GTC_FAKE_TELEGRAM_TOKENS"
TOKEN_HASHES_ENV = "GTC_FAKE_TELEGRAM_TOKEN_SHA256"
EDGE_DIR_ENV = "GTC_FAKE_EDGE_DIR"  # the same variable as the fake cloudflared's
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 64 * 1024  # request bodies, both the Bot API and the control plane
MAX_RECORDS = 10_000  # calls kept; older ones are dropped first
SOCKET_TIMEOUT_S = 10.0  # per request read, and per delivery
PARENT_POLL_S = 0.5
READY_LINE = "fake Telegram Bot API listening on http://{host}:{port}"
RESOLVE_FAILURE = "Bad Request: bad webhook: Failed to resolve host: Name or service not known"
SECRET_CHARS = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
BOT_PATH = re.compile(r"^/bot(?P<token>[^/]*)/(?P<method>[A-Za-z]+)$")
METHODS = ("setWebhook", "getWebhookInfo", "deleteWebhook", "sendMessage", "getMe")
ALLOWED_UPDATES_DEFAULT: list[str] = []
Answer = tuple[int, dict[str, Any]]
Handler = Callable[[str, dict[str, Any]], Answer]


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def fingerprint(token: str) -> str:
    """How an unknown token is recorded: a short sha256, never the token."""
    return "unknown:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def answer_ok(result: Any, description: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"ok": True, "result": result}
    if description:
        doc["description"] = description
    return doc


def answer_error(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}


class BotState:
    """Everything the fake remembers, behind one lock (handlers run on threads)."""

    def __init__(
        self,
        tokens: dict[str, str],
        edge_dir: Path | None,
        token_hashes: dict[str, str] | None = None,
    ) -> None:
        self.by_token = {token: label for label, token in tokens.items()}
        self.by_hash = {digest.lower(): label for label, digest in (token_hashes or {}).items()}
        self.edge_dir = edge_dir
        self.lock = threading.RLock()  # handlers consult routes while holding it
        self.calls: list[dict[str, Any]] = []
        self.unexpected: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.routes: dict[str, tuple[str, int]] = {}  # tunnel host → its edge (address, port)
        self.fail_count = 0
        self.fail_until = 0.0
        self.seq = 0
        self.message_id = 0
        self._handlers: dict[str, Handler] = {
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "deleteWebhook": self._delete_webhook,
            "sendMessage": self._send_message,
            "getMe": self._get_me,
        }

    # -- Bot API ---------------------------------------------------------------------------
    def call(self, token: str, method: str, params: dict[str, Any]) -> Answer:
        """Answer one Bot API call and record it (with the token's label)."""
        canonical = next((m for m in METHODS if m.lower() == method.lower()), method)
        with self.lock:
            bot = self.by_token.get(token) or self.by_hash.get(token_sha256(token))
            if bot is None:
                status, doc = 401, answer_error(401, "Unauthorized")
            elif canonical not in METHODS:
                status, doc = 404, answer_error(404, "Not Found")
            else:
                status, doc = self._handlers[canonical](bot, params)
            self.seq += 1
            self.calls.append(
                {
                    "seq": self.seq,
                    "method": canonical,
                    "bot": bot if bot is not None else fingerprint(token),
                    "params": params,
                    "status": status,
                    "ok": bool(doc.get("ok")),
                    "description": doc.get("description"),
                    "at": time.time(),
                }
            )
            del self.calls[:-MAX_RECORDS]
        return status, doc

    def _set_webhook(self, bot: str, params: dict[str, Any]) -> Answer:
        url = str(params.get("url") or "")
        if not url:
            return self._delete_webhook(bot, params)
        previous = self.webhooks.get(bot)
        refusal = self._webhook_refusal(url, params)
        allowed = _allowed_updates(params, previous)
        if refusal is None and allowed is None:
            refusal = "Bad Request: can't parse allowed updates"
        if refusal is not None or allowed is None:
            return 400, answer_error(400, refusal or "")
        secret = params.get("secret_token")
        same = previous is not None and previous["url"] == url
        self.webhooks[bot] = {
            "url": url,
            "secret_token": None if secret is None else str(secret),
            "allowed_updates": allowed,
            "set_at": time.time(),
        }
        return 200, answer_ok(True, "Webhook is already set" if same else "Webhook was set")

    def _webhook_refusal(self, url: str, params: dict[str, Any]) -> str | None:
        """Telegram's description when it refuses this setWebhook, else None."""
        if self.fail_count > 0 or time.monotonic() < self.fail_until:
            self.fail_count = max(0, self.fail_count - 1)
            return RESOLVE_FAILURE
        if urlsplit(url).scheme != "https":
            return "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
        if self._resolves_hosts() and self._edge(urlsplit(url).hostname or "") is None:
            return RESOLVE_FAILURE  # as Telegram: it resolves the host first
        secret = params.get("secret_token")
        if secret is not None and not SECRET_CHARS.match(str(secret)):
            return "Bad Request: secret token contains unallowed characters"
        return None

    def _delete_webhook(self, bot: str, params: dict[str, Any]) -> Answer:
        had = self.webhooks.pop(bot, None) is not None
        return 200, answer_ok(True, "Webhook was deleted" if had else "Webhook is already deleted")

    def _get_webhook_info(self, bot: str, params: dict[str, Any]) -> Answer:
        hook = self.webhooks.get(bot)
        info: dict[str, Any] = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }
        if hook is not None:
            info.update(url=hook["url"], max_connections=40, ip_address="127.0.0.1")
            info["allowed_updates"] = hook["allowed_updates"]
            if hook.get("last_error_message"):
                info["last_error_date"] = hook["last_error_date"]
                info["last_error_message"] = hook["last_error_message"]
        return 200, answer_ok(info)

    def _send_message(self, bot: str, params: dict[str, Any]) -> Answer:
        chat_id, text = params.get("chat_id"), params.get("text")
        if chat_id in (None, ""):
            return 400, answer_error(400, "Bad Request: chat_id is empty")
        if not isinstance(text, str) or not text.strip():
            return 400, answer_error(400, "Bad Request: message text is empty")
        self.message_id += 1
        return 200, answer_ok(
            {
                "message_id": self.message_id,
                "from": self._me(bot),
                "chat": {"id": chat_id, "type": "private"},
                "date": int(time.time()),
                "text": text,
            }
        )

    def _get_me(self, bot: str, params: dict[str, Any]) -> Answer:
        return 200, answer_ok(self._me(bot))

    @staticmethod
    def _me(bot: str) -> dict[str, Any]:
        digest = int(hashlib.sha256(bot.encode()).hexdigest()[:8], 16)
        username = re.sub(r"[^a-z0-9_]", "_", bot.lower()) + "_bot"
        return {
            "id": 7_000_000_000 + digest,
            "is_bot": True,
            "first_name": bot,
            "username": username,
        }

    # -- the fake edge -----------------------------------------------------------------------
    def _resolves_hosts(self) -> bool:
        """Whether setWebhook checks the host first (it knows edges: a directory or routes)."""
        with self.lock:
            routed = bool(self.routes)
        return self.edge_dir is not None or routed

    def _edge(self, host: str) -> tuple[str, int] | None:
        """Where the edge of tunnel `host` listens: a route, else its loopback record."""
        with self.lock:
            routed = self.routes.get(host)
        if routed is not None:
            return routed
        if self.edge_dir is None or not host or "/" in host:
            return None
        try:
            entry = json.loads((self.edge_dir / f"{host}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        port = entry.get("edge_port")
        return ("127.0.0.1", port) if isinstance(port, int) else None

    def route(self, body: dict[str, Any]) -> Answer:
        """`{host, address, port}`: deliveries to `https://<host>` go to `address:port`."""
        host, address, port = body.get("host"), body.get("address"), body.get("port")
        if not (isinstance(host, str) and host and isinstance(address, str) and address):
            return 400, {"error": "a route needs `host` and `address` strings and a `port`"}
        if not isinstance(port, int) or not 0 < port < 65536:
            return 400, {"error": f"route port {port!r} is not a TCP port"}
        with self.lock:
            self.routes[host] = (address, port)
        return 200, {"host": host, "address": address, "port": port}

    def deliver(self, request: dict[str, Any]) -> Answer:
        """POST an Update to `bot`'s webhook through the edge, as Telegram's servers would.

        `secret`: absent → the registered secret_token; null → no header; a string → that."""
        labels = [*self.by_token.values(), *self.by_hash.values()]
        bot = request.get("bot") or next(iter(labels), "")
        with self.lock:
            hook = dict(self.webhooks.get(bot) or {})
        if not hook:
            return 409, {"error": f"no webhook is registered for bot `{bot}`"}
        secret = request["secret"] if "secret" in request else hook.get("secret_token")
        parts = urlsplit(hook["url"])
        edge = self._edge(parts.hostname or "")
        if edge is None:
            return self._delivered(bot, hook, None, "", f"no fake edge for {parts.hostname}")
        headers = {"Content-Type": "application/json", "Host": parts.netloc}
        if secret is not None:
            headers[SECRET_HEADER] = str(secret)
        body = json.dumps(request.get("update", {})).encode()
        conn = http.client.HTTPConnection(*edge, timeout=SOCKET_TIMEOUT_S)
        try:
            conn.request("POST", parts.path or "/", body=body, headers=headers)
            response = conn.getresponse()
            text = response.read(MAX_BODY).decode("utf-8", "replace")
            return self._delivered(bot, hook, response.status, text, None)
        except OSError as exc:
            return self._delivered(bot, hook, None, "", f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()

    def _delivered(
        self, bot: str, hook: dict[str, Any], status: int | None, body: str, error: str | None
    ) -> Answer:
        record = {"bot": bot, "url": hook["url"], "status": status, "body": body, "error": error}
        with self.lock:
            self.deliveries.append(record)
            del self.deliveries[:-MAX_RECORDS]
            live = self.webhooks.get(bot)
            if live is not None and (error is not None or (status or 0) >= 300):
                live["last_error_date"] = int(time.time())
                live["last_error_message"] = error or f"Wrong response from the webhook: {status}"
        return 200, record

    # -- control plane ---------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            state: dict[str, Any] = {"calls": self.calls, "unexpected": self.unexpected}
            state.update(deliveries=self.deliveries, webhooks=self.webhooks)
            state["routes"] = {h: f"{a}:{p}" for h, (a, p) in self.routes.items()}
            return copy.deepcopy(state)

    def control(self, method: str, action: str, body: dict[str, Any]) -> Answer:
        if method == "GET" and action == "state":
            return 200, self.snapshot()
        if method == "POST" and action == "fail-set-webhook":
            with self.lock:
                self.fail_count = int(body.get("count") or 0)
                self.fail_until = time.monotonic() + float(body.get("seconds") or 0)
            return 200, {"count": self.fail_count, "seconds": float(body.get("seconds") or 0)}
        if method == "POST" and action == "deliver":
            return self.deliver(body)
        if method == "POST" and action == "route":
            return self.route(body)
        if method == "POST" and action == "reset":
            with self.lock:
                for records in (self.calls, self.unexpected, self.deliveries):
                    records.clear()
                self.webhooks.clear()
                self.routes.clear()
                self.fail_count, self.fail_until = 0, 0.0
            return 200, {"reset": True}
        return 404, {"error": f"no control action {method} /_fake/{action}"}


def _allowed_updates(params: dict[str, Any], previous: dict[str, Any] | None) -> list[Any] | None:
    """The allowed_updates to keep (not given: the previous setting stays); None if unparsable."""
    allowed = params.get("allowed_updates")
    if allowed is None:
        return list(previous["allowed_updates"]) if previous else list(ALLOWED_UPDATES_DEFAULT)
    if isinstance(allowed, str):
        try:
            allowed = json.loads(allowed or "[]")
        except ValueError:
            return None
    return list(allowed) if isinstance(allowed, list) else None


def handler_for(state: BotState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "nginx/1.18.0"  # what api.telegram.org answers with
        sys_version = ""
        timeout = SOCKET_TIMEOUT_S

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = MAX_BODY + 1
            if length > MAX_BODY:
                self._send(413, answer_error(413, "Request Entity Too Large"), close=True)
                return
            raw = self.rfile.read(length) if length > 0 else b""
            if parts.path.startswith("/_fake/"):
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    self._send(400, {"error": "control bodies are JSON objects"})
                    return
                self._send(*state.control(self.command, parts.path[len("/_fake/") :], body))
                return
            match = BOT_PATH.match(parts.path)
            if match is None:
                with state.lock:
                    state.unexpected.append({"method": self.command, "path": _redact(parts.path)})
                self._send(404, answer_error(404, "Not Found"))
                return
            try:
                params = self._params(parts.query, raw)
            except ValueError:
                self._send(400, answer_error(400, "Bad Request: can't parse JSON object"))
                return
            self._send(*state.call(match["token"], match["method"], params))

        def _params(self, query: str, raw: bytes) -> dict[str, Any]:
            params: dict[str, Any] = dict(parse_qsl(query))
            kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if kind == "application/json" and raw:
                doc = json.loads(raw)
                if not isinstance(doc, dict):
                    raise ValueError("not an object")
                params.update(doc)
            elif raw:
                params.update(parse_qsl(raw.decode("utf-8", "replace")))
            return params

        def _send(self, status: int, doc: dict[str, Any], *, close: bool = False) -> None:
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """One line per request on stderr, the token and query masked."""
            text = (format % args) if args else format
            print(f"{self.address_string()} {_redact(text)}", file=sys.stderr, flush=True)

    return Handler


def watch_parent(stop: threading.Event, shutdown: Any) -> None:
    """Shut down once our parent is gone (re-parented): never outlive the harness."""
    parent = os.getppid()
    while not stop.wait(PARENT_POLL_S):
        if os.getppid() != parent:
            shutdown()
            return


def _redact(text: str) -> str:
    return re.sub(r"/bot[^/\s]*/", "/bot***/", re.sub(r"\?\S*", "?…", text))


def _labels(name: str) -> dict[str, str] | None:
    """`$name` as a JSON object label → string (empty when unset); None (said why) if not."""
    try:
        doc = json.loads(os.environ.get(name) or "{}")
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
        print(f"${name} must be a JSON object label → string", file=sys.stderr)
        return None
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A fake Telegram Bot API for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    tokens, hashes = _labels(TOKENS_ENV), _labels(TOKEN_HASHES_ENV)
    if tokens is None or hashes is None:
        return 2
    edge_dir = os.environ.get(EDGE_DIR_ENV)
    state = BotState(tokens, Path(edge_dir) if edge_dir else None, hashes)
    server = ThreadingHTTPServer((args.host, args.port), handler_for(state))
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(READY_LINE.format(host=host, port=port), flush=True)
    stop = threading.Event()

    def shutdown(*_: object) -> None:
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    threading.Thread(target=watch_parent, args=(stop, shutdown), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
