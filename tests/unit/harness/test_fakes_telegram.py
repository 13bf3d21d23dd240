"""The fake Telegram Bot API: token check, recorded calls, webhook state, injected setWebhook
failures, deliveries through the fake cloudflared edge, bounds, and no token in its logs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.fakes import bot_api, edges
from harness.fakes import cloudflared as fake_cloudflared
from harness.fakes import telegram as fake
from harness.fakes.origin import RecordingOrigin
from harness.process import RUN_ID_ENV, ManagedProcess

TOKEN = "123456:AAFakeTokenForTests_abcdefghijklmnop"
OTHER = "654321:BBAnotherBotToken_zyxwvutsrqponmlk"
SECRET = "s3cret-Token_value"
UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[bot_api.FakeBotApi]:
    tokens = {"demo-bot": TOKEN, "other-bot": OTHER}
    fake_api = bot_api.FakeBotApi(
        tokens=tokens, logs_dir=tmp_path / "logs", edge_dir=tmp_path / "edges", run_id="t"
    )
    with fake_api:
        yield fake_api
    logs = fake_api.process.logs()
    assert TOKEN not in logs and OTHER not in logs and SECRET not in logs


def call(api: bot_api.FakeBotApi, token: str, method: str, **params: Any) -> httpx.Response:
    url = f"{api.api_base}/bot{token}/{method}"
    return httpx.post(url, json=params, timeout=5, trust_env=False)


@pytest.fixture
def tunnel(tmp_path: Path) -> Iterator[tuple[edges.Edge, RecordingOrigin]]:
    """A fake cloudflared in front of a recording origin; its edge."""
    with RecordingOrigin() as origin:
        binary = edges.install_cloudflared(tmp_path / "bin")
        env = {fake_cloudflared.EDGE_DIR_ENV: str(tmp_path / "edges"), RUN_ID_ENV: "t"}
        argv = [str(binary), "tunnel", "--url", f"http://127.0.0.1:{origin.port}"]
        with ManagedProcess(argv, env=env, logs_dir=tmp_path / "logs", name="cf") as proc:
            url = proc.wait_for(edges.QUICK_TUNNEL_URL.pattern, 10, stream="stderr").group(0)
            yield edges.EdgeRegistry(tmp_path / "edges").wait(url), origin


def test_an_unknown_token_gets_401_and_is_recorded_by_fingerprint(
    api: bot_api.FakeBotApi,
) -> None:
    response = call(api, "999:wrong", "getMe")
    assert response.status_code == 401 and response.json() == UNAUTHORIZED
    assert call(api, TOKEN, "getMe").json()["result"]["username"] == "demo_bot_bot"
    wrong, right = api.calls("getme")
    assert wrong.bot.startswith("unknown:") and "999" not in wrong.bot
    assert (wrong.status, wrong.ok) == (401, False)
    assert (right.bot, right.status, right.ok) == ("demo-bot", 200, True)


def test_webhook_lifecycle_per_bot_with_the_token_of_each_call(api: bot_api.FakeBotApi) -> None:
    url = "https://example.org/webhook/telegram"
    api_no_edge = call(api, TOKEN, "setWebhook", url=url, secret_token=SECRET)
    # the fake has an edge dir: a host no fake tunnel serves does not resolve, as on Telegram
    assert api_no_edge.json() == {
        "ok": False,
        "error_code": 400,
        "description": fake.RESOLVE_FAILURE,
    }
    api.reset()
    (api_dir := Path(api.process.env[fake.EDGE_DIR_ENV])).mkdir(exist_ok=True)
    (api_dir / "example.org.json").write_text(json.dumps({"edge_port": 9}))
    allowed = ["message", "callback_query", "edited_message"]
    set_ok = call(api, TOKEN, "setWebhook", url=url, secret_token=SECRET, allowed_updates=allowed)
    assert set_ok.json() == {"ok": True, "result": True, "description": "Webhook was set"}
    again = call(api, TOKEN, "setWebhook", url=url, secret_token=SECRET)
    assert again.json()["description"] == "Webhook is already set"
    info = call(api, TOKEN, "getWebhookInfo").json()["result"]
    assert info["url"] == url and info["allowed_updates"] == allowed
    assert call(api, OTHER, "getWebhookInfo").json()["result"]["url"] == ""  # per bot
    hook = api.webhook("demo-bot")
    assert hook is not None and hook["set_at"] > 0
    assert (hook["url"], hook["secret_token"], hook["allowed_updates"]) == (url, SECRET, allowed)
    deleted = call(api, OTHER, "deleteWebhook").json()
    assert deleted["description"] == "Webhook is already deleted"
    assert call(api, TOKEN, "deleteWebhook").json()["description"] == "Webhook was deleted"
    assert api.webhook("demo-bot") is None
    calls = api.calls()
    assert [(c.method, c.bot) for c in calls] == [
        ("setWebhook", "demo-bot"),
        ("setWebhook", "demo-bot"),
        ("getWebhookInfo", "demo-bot"),
        ("getWebhookInfo", "other-bot"),
        ("deleteWebhook", "other-bot"),
        ("deleteWebhook", "demo-bot"),
    ]
    assert calls[0].params["secret_token"] == SECRET
    assert calls[0].redacted()["params"]["secret_token"] == "***"


def test_set_webhook_rejects_http_urls_and_bad_secrets(api: bot_api.FakeBotApi) -> None:
    plain = call(api, TOKEN, "setWebhook", url="http://x.trycloudflare.com/webhook/telegram")
    assert "An HTTPS URL must be provided" in plain.json()["description"]
    form = httpx.post(  # form-encoded parameters work too, as on Telegram
        f"{api.api_base}/bot{TOKEN}/setWebhook",
        data={"url": "https://a.trycloudflare.com/", "secret_token": "no spaces!"},
        trust_env=False,
    )
    assert form.status_code == 400  # the host does not resolve first (no edge for it)
    assert api.calls("setWebhook")[-1].params["secret_token"] == "no spaces!"


def test_fail_set_webhook_answers_the_resolve_failure_n_times(
    api: bot_api.FakeBotApi, tunnel: tuple[edges.Edge, RecordingOrigin]
) -> None:
    edge, _ = tunnel
    api.fail_set_webhook(2)
    answers = [call(api, TOKEN, "setWebhook", url=f"{edge.url}/webhook/telegram") for _ in "abc"]
    assert [a.status_code for a in answers] == [400, 400, 200]
    assert answers[0].json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: bad webhook: Failed to resolve host: "
        "Name or service not known",
    }
    api.fail_set_webhook(seconds=30)
    assert call(api, TOKEN, "setWebhook", url=f"{edge.url}/x").status_code == 400
    api.fail_set_webhook(0)
    assert call(api, TOKEN, "setWebhook", url=f"{edge.url}/x").status_code == 200


def test_deliver_goes_through_the_edge_with_the_registered_secret(
    api: bot_api.FakeBotApi, tunnel: tuple[edges.Edge, RecordingOrigin]
) -> None:
    edge, origin = tunnel
    hook = f"{edge.url}/webhook/telegram"
    assert call(api, TOKEN, "setWebhook", url=hook, secret_token=SECRET).status_code == 200
    update = {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 42}, "text": "hi"}}
    delivered = api.deliver(update)
    assert (delivered.status, delivered.body, delivered.url) == (200, '{"echo": true}', hook)
    api.deliver(update, secret="wrong")
    api.deliver(update, secret=None)
    first, wrong, missing = origin.seen
    assert (first.method, first.path, first.peer) == ("POST", "/webhook/telegram", "127.0.0.1")
    assert first.headers["Host"] == edge.host
    assert first.headers[fake.SECRET_HEADER] == SECRET
    assert json.loads(first.body) == update
    assert wrong.headers[fake.SECRET_HEADER] == "wrong"
    assert fake.SECRET_HEADER not in missing.headers
    assert len(api.state()["deliveries"]) == 3


def test_deliver_without_a_webhook_or_edge_says_why(
    api: bot_api.FakeBotApi, tunnel: tuple[edges.Edge, RecordingOrigin]
) -> None:
    with pytest.raises(bot_api.FakeBotApiError, match="no webhook is registered for bot"):
        api.deliver({"update_id": 1})
    edge, _ = tunnel
    call(api, TOKEN, "setWebhook", url=f"{edge.url}/webhook/telegram")
    (Path(api.process.env[fake.EDGE_DIR_ENV]) / f"{edge.host}.json").unlink()  # tunnel gone
    gone = api.deliver({"update_id": 2})
    assert gone.status is None and gone.error == f"no fake edge for {edge.host}"
    info = call(api, TOKEN, "getWebhookInfo").json()["result"]
    assert info["last_error_message"] == gone.error


def test_send_message_validates_and_answers_a_message(api: bot_api.FakeBotApi) -> None:
    sent = call(api, TOKEN, "sendMessage", chat_id=42, text="Hello")
    assert sent.status_code == 200
    assert sent.json()["result"]["chat"]["id"] == 42 and sent.json()["result"]["text"] == "Hello"
    assert call(api, TOKEN, "sendMessage", chat_id=42, text="").status_code == 400
    assert call(api, TOKEN, "sendMessage", text="x").json()["description"] == (
        "Bad Request: chat_id is empty"
    )
    [ok, *_] = api.calls("sendMessage")
    assert ok.params == {"chat_id": 42, "text": "Hello"} and ok.bot == "demo-bot"


def test_bounds_and_unexpected_paths(api: bot_api.FakeBotApi) -> None:
    big = httpx.post(
        f"{api.api_base}/bot{TOKEN}/sendMessage",
        content=b"x" * (fake.MAX_BODY + 1),
        headers={"Content-Type": "application/json"},
        trust_env=False,
    )
    assert big.status_code == 413
    bad = httpx.post(
        f"{api.api_base}/bot{TOKEN}/sendMessage",
        content=b"[1]",
        headers={"Content-Type": "application/json"},
        trust_env=False,
    )
    assert bad.status_code == 400
    assert call(api, TOKEN, "noSuchMethod").status_code == 404
    api.check_assertions()  # an unknown METHOD is Telegram's 404, not a harness surprise
    assert httpx.get(f"{api.api_base}/elsewhere", trust_env=False).status_code == 404
    with pytest.raises(bot_api.FakeBotApiError, match=r"1 request.*it does not serve"):
        api.check_assertions()


def test_a_bad_tokens_variable_fails_the_start(tmp_path: Path) -> None:
    broken = bot_api.FakeBotApi(tokens={}, logs_dir=tmp_path)
    broken.process.env[fake.TOKENS_ENV] = "not json"
    with pytest.raises(bot_api.FakeBotApiError, match="cannot start the fake Telegram Bot API"):
        broken.start()
    assert "must be a JSON object" in broken.process.stderr()
