"""`POST /webhook/telegram` and the loopback-trust gate, through httpx.ASGITransport."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import httpx
import pytest

from greentic.errors import IoError
from greentic.spec.environment import Environment, MessagingEndpoint
from greentic.worker import telegram
from greentic.worker.app import MAX_BODY_BYTES, Runtime, WorkerApp
from greentic.worker.listeners import Address, Listener, loopback_request
from greentic.worker.logs import MemoryLog

from .test_worker_app import LOOPBACK, REMOTE, call, runtime_for

SECRET = "whsec-0123456789abcdef"
REF = "secret://local/default/_/messaging-e1/webhook_secret"
HOOK = "/webhook/telegram"
UPDATE = {"update_id": 1, "message": {"text": "hi", "chat": {"id": 42}, "from": {"id": 7}}}


class Side:
    """A TelegramSide with a dict dev-store and a recorded sender."""

    def __init__(self, runtime: Runtime, *, linked: list[str], secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.sent: list[tuple[str, int | str, list[str]]] = []
        env = Environment.model_validate(
            {
                "environment_id": "local",
                "name": "local",
                "host_config": {"env_id": "local"},
                "messaging_endpoints": [
                    MessagingEndpoint(
                        env_id="local",
                        endpoint_id="E1",
                        provider_type="messaging.telegram.bot",
                        provider_id="e1",
                        display_name="e1",
                        webhook_secret_ref=REF,
                        linked_bundles=linked,
                    )
                ],
            }
        )
        self.side = telegram.TelegramSide(env=env, secret=self.get, send=self.send)
        self.app = WorkerApp(
            replace(runtime, telegram=self.side), Listener(Address("0.0.0.0", 8080), False)
        )

    def get(self, ref: str) -> str | None:
        value = self.secrets.get(ref)
        if value == "EROFS":
            raise IoError(f"io error on /x: Read-only file system ({ref})")
        return value

    def send(self, token_ref: str, chat: int | str, texts: list[str]) -> None:
        self.sent.append((token_ref, chat, texts))


def post(
    app: WorkerApp, body: Any = UPDATE, secret: str | None = SECRET, **kw: Any
) -> httpx.Response:
    headers = {} if secret is None else {"x-telegram-bot-api-secret-token": secret}
    if isinstance(body, bytes):
        return call(app, "POST", HOOK, content=body, headers=headers, client=REMOTE, **kw)
    return call(app, "POST", HOOK, json=body, headers=headers, client=REMOTE, **kw)


def test_an_authenticated_update_runs_the_flow_and_replies_via_send_message() -> None:
    s = Side(runtime_for(), linked=["bot"], secrets={REF: SECRET})
    r = post(s.app)
    assert (r.status_code, r.text) == (200, "ok")
    assert s.sent == [
        ("secret://local/acme/_/messaging-telegram/telegram_bot_token", 42, ["echo: hi"])
    ]


def test_wrong_or_missing_secret_is_401_and_runs_nothing() -> None:
    s = Side(runtime_for(), linked=["bot"], secrets={REF: SECRET})
    r = post(s.app, secret="whsec-0123456789abcdeX")
    assert (r.status_code, r.text) == (401, telegram.NO_MATCH)
    r = post(s.app, secret="")
    assert (r.status_code, r.text) == (401, telegram.NO_MATCH)
    r = post(s.app, secret=None)
    assert (r.status_code, r.text) == (401, telegram.MISSING_HEADER)
    assert s.sent == []


def test_a_rotated_secret_counts_at_once() -> None:
    s = Side(runtime_for(), linked=["bot"], secrets={REF: SECRET})
    s.secrets[REF] = "rotated-secret-value"
    assert post(s.app).status_code == 401
    assert post(s.app, secret="rotated-secret-value").status_code == 200


def test_a_secret_missing_from_the_dev_store_refuses_and_warns() -> None:
    s = Side(runtime_for(), linked=["bot"], secrets={})
    r = post(s.app)
    assert r.status_code == 401
    log = s.app.runtime.log
    assert isinstance(log, MemoryLog)
    assert (
        "warn",
        f"webhook secret `{REF}` of endpoint E1 is missing from the dev-store; its Telegram "
        "updates are refused",
    ) in log.lines
    s = Side(runtime_for(), linked=["bot"], secrets={REF: "EROFS"})
    assert post(s.app).status_code == 401


def test_a_bundle_without_a_linked_endpoint_is_refused() -> None:
    s = Side(runtime_for(), linked=["other"], secrets={REF: SECRET})
    r = post(s.app)
    assert (r.status_code, r.text) == (403, telegram.NOT_LINKED)
    plain = WorkerApp(runtime_for(), Listener(Address("0.0.0.0", 8080), False))
    assert post(plain).status_code == 403  # no Telegram side at all: never runs the flow


@pytest.mark.parametrize(
    "body",
    [
        {"update_id": 2, "callback_query": {"id": "q"}},
        {"update_id": 3, "message": {"sticker": {}, "chat": {"id": 1}}},
        [1, 2, 3],
        "text",
        None,
    ],
)
def test_updates_without_text_are_acknowledged(body: Any) -> None:
    s = Side(runtime_for(), linked=["bot"], secrets={REF: SECRET})
    r = post(s.app, body=body)
    assert (r.status_code, r.text) == (200, "ok")
    assert s.sent == []


def test_malformed_and_oversized_bodies_are_client_errors() -> None:
    s = Side(runtime_for(), linked=["bot"], secrets={REF: SECRET})
    assert post(s.app, body=b"{not json").status_code == 400
    assert post(s.app, body=b"\xff\xfe").status_code == 400
    assert post(s.app, body=b"[" * 100_000).status_code == 400
    assert post(s.app, body=b"x" * (MAX_BODY_BYTES + 1)).status_code == 413


def test_a_failed_flow_replies_with_the_failure_text() -> None:
    from .envs import EMPTY_FLOW

    s = Side(runtime_for({"main": EMPTY_FLOW}), linked=["bot"], secrets={REF: SECRET})
    assert post(s.app).status_code == 200
    [(_, chat, [text])] = s.sent
    assert chat == 42 and text.startswith("Sorry — something went wrong")


@pytest.mark.parametrize(
    ("host", "origin", "ok"),
    [
        ("127.0.0.1:8081", None, True),
        ("localhost", None, True),
        ("[::1]:8081", None, True),
        ("127.0.0.1:8081", "http://127.0.0.1:8081", True),
        ("localhost:8081", "http://127.0.0.1:8081", True),
        ("127.0.0.1:8081", "http://evil.example", False),
        ("127.0.0.1:8081", "http://127.0.0.1:9999", False),
        ("127.0.0.1:8081", "null", False),
        ("evil.example:8081", None, False),  # DNS rebinding: a foreign name on a loopback peer
        ("localhost.evil.example", None, False),
        (None, None, False),
    ],
)
def test_loopback_request(host: str | None, origin: str | None, ok: bool) -> None:
    assert loopback_request(host, origin) is ok


def raw(app: WorkerApp, method: str, path: str, headers: dict[str, str], **kw: Any) -> int:
    """Status of a loopback-peer request with explicit Host/Origin headers."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=LOOPBACK)
        async with httpx.AsyncClient(transport=transport) as c:
            return await c.request(method, f"http://127.0.0.1:8080{path}", headers=headers, **kw)

    return asyncio.run(go()).status_code


def test_console_trust_needs_a_loopback_host_and_no_foreign_origin() -> None:
    app = WorkerApp(runtime_for(gui=True), Listener(Address("127.0.0.1", 8081)))
    invoke = {"tenant": {"tenant_id": "acme"}, "payload": {"text": "x"}}
    assert raw(app, "GET", "/chat", {"host": "127.0.0.1:8081"}) == 200
    assert raw(app, "GET", "/chat", {"host": "rebind.example:8081"}) == 405
    assert raw(app, "POST", "/workers/invoke", {"host": "localhost"}, json=invoke) == 200
    foreign = {"host": "localhost", "origin": "https://evil.example"}
    assert raw(app, "POST", "/workers/invoke", foreign, json=invoke) == 403
    as_text = {"host": "localhost", "content-type": "text/plain"}
    assert raw(app, "POST", "/workers/invoke", as_text, content=b"{}") == 415


def test_too_deep_json_on_the_generic_ingress_is_400() -> None:
    app = WorkerApp(runtime_for(), Listener(Address("0.0.0.0", 8080), False))
    r = call(app, "POST", "/", content=b"[" * 100_000, client=REMOTE)
    assert (r.status_code, r.text) == (400, "request body JSON is nested deeper than 64 levels")


def test_too_deep_json_on_workers_invoke_is_400() -> None:
    app = WorkerApp(runtime_for(), Listener(Address("127.0.0.1", 8080)))
    r = call(
        app,
        "POST",
        "/workers/invoke",
        content=b"[" * 100_000,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400
    assert r.text == (
        "invalid HostWorkerRequest body: request body JSON is nested deeper than 64 levels"
    )
