"""Telegram pure parts: base-URL precedence, plans, the secret-token gate, Updates, redaction,
Bot API answer classification."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greentic.spec.environment import Environment, MessagingEndpoint
from greentic.worker import botapi, telegram
from greentic.worker.activation import Activation, ActiveDeployment
from greentic.worker.logs import MemoryLog
from greentic.worker.redact import MARK, RedactingLog, Redactor
from greentic.worker.routing import Route


def test_base_url_precedence_tunnel_then_host_config_then_env() -> None:
    env = {"PUBLIC_BASE_URL": "https://env.example"}
    assert telegram.public_base_url("https://t.trycloudflare.com", "https://cfg.example", env) == (
        "https://t.trycloudflare.com",
        [],
    )
    assert telegram.public_base_url(None, "https://cfg.example/", env)[0] == "https://cfg.example"
    assert telegram.public_base_url(None, None, env)[0] == "https://env.example"
    assert telegram.public_base_url(None, "  ", {}) == (None, [])


def test_bad_base_urls_are_named_and_skipped() -> None:
    url, warnings = telegram.public_base_url(
        None, "ftp://cfg.example", {"PUBLIC_BASE_URL": "https://e.example/hook"}
    )
    assert url is None
    assert warnings == [
        "ignoring environment.host_config.public_base_url `ftp://cfg.example` must use http "
        "or https",
        "ignoring PUBLIC_BASE_URL must be an origin without a path (got `https://e.example/hook`)",
    ]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "must not be empty"),
        ("https://a b", "must not contain whitespace"),
        ("https://", "must name a host"),
        ("https://x.example?a=1", "must not have a query"),
        ("https://x.example:99999", "is not a valid URL"),
    ],
)
def test_normalize_origin_refusals(value: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        telegram.normalize_origin(value, "PUBLIC_BASE_URL")


def test_normalize_origin_keeps_scheme_host_port() -> None:
    assert telegram.normalize_origin("HTTPS://Bot.Example:8443/", "x") == "https://bot.example:8443"
    assert telegram.normalize_origin("http://[::1]:80", "x") == "http://[::1]:80"


def endpoint(eid: str, *, linked: list[str], kind: str = "messaging.telegram.bot") -> dict:
    return {
        "env_id": "local",
        "endpoint_id": eid,
        "provider_type": kind,
        "provider_id": eid.lower(),
        "display_name": eid,
        "webhook_secret_ref": f"secret://local/default/_/messaging-{eid.lower()}/webhook_secret",
        "linked_bundles": linked,
    }


def env_with(*endpoints: dict) -> Environment:
    return Environment.model_validate(
        {
            "environment_id": "local",
            "name": "local",
            "host_config": {"env_id": "local"},
            "messaging_endpoints": [MessagingEndpoint.model_validate(e) for e in endpoints],
        }
    )


def activation(*bundles: str) -> Activation:
    deps = tuple(
        ActiveDeployment(Route(f"D{i}", b, "tenant-a", "default"), ())
        for i, b in enumerate(bundles)
    )
    return Activation("local", deps)


def test_plans_one_per_served_deployment_with_a_linked_endpoint() -> None:
    env = env_with(
        endpoint("E1", linked=["bot"]),
        endpoint("E2", linked=["bot"]),
        endpoint("E3", linked=["other"], kind="messaging.slack"),
        endpoint("E4", linked=["idle"]),
    )
    plans, warnings = telegram.plans(env, activation("bot", "other"), "https://p.example/")
    assert plans == [
        telegram.WebhookPlan(
            deployment_id="D0",
            bundle_id="bot",
            tenant="tenant-a",
            endpoint_id="E1",
            url="https://p.example/webhook/telegram",
            webhook_secret_ref="secret://local/default/_/messaging-e1/webhook_secret",
            bot_token_ref="secret://local/tenant-a/_/messaging-telegram/telegram_bot_token",
        )
    ]
    assert warnings == [
        "1 more Telegram endpoint(s) linked to bundle `bot` are not registered (one webhook per "
        "bot): using endpoint E1"
    ]


@pytest.mark.parametrize(
    ("kind", "yes"),
    [
        ("telegram", True),
        ("messaging.telegram.bot", True),
        ("telegram.x", True),
        ("telegramx", False),
        ("slack", False),
    ],
)
def test_is_telegram(kind: str, yes: bool) -> None:
    assert telegram.is_telegram(kind) is yes


def test_match_secret_is_exact() -> None:
    secrets = [("E1", "s3cret-one"), ("E2", "s3cret-two")]
    assert telegram.match_secret("s3cret-two", secrets) == "E2"
    assert telegram.match_secret("s3cret-one", secrets) == "E1"
    for wrong in (None, "", "s3cret", "s3cret-one ", "S3CRET-ONE"):
        assert telegram.match_secret(wrong, secrets) is None
    assert telegram.match_secret("x", []) is None


def test_match_secret_handles_non_ascii_headers() -> None:
    assert telegram.match_secret("ü", [("E1", "ü")]) == "E1"


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            {"message": {"text": "hi", "chat": {"id": 42}, "from": {"id": 7}}},
            telegram.Message(42, "hi", "7"),
        ),
        ({"edited_message": {"text": "e", "chat": {"id": "c"}}}, telegram.Message("c", "e")),
        ({"message": {"chat": {"id": 42}}}, None),
        ({"message": {"text": "hi"}}, None),
        ({"message": {"text": "hi", "chat": {"id": True}}}, None),
        ({"message": {"text": "", "chat": {"id": 1}}}, None),
        ({"callback_query": {"data": "x"}}, None),
        ({"message": "nope"}, None),
        ([1, 2], None),
        (None, None),
    ],
)
def test_parse_update(doc: object, expected: telegram.Message | None) -> None:
    assert telegram.parse_update(doc) == expected


def test_reply_texts() -> None:
    items = [{"text": "a"}, {"card": 1}, "b", None, {"text": ""}, {"text": 3}]
    assert telegram.reply_texts(items) == ["a", "b"]


def test_redactor_hides_learned_values_and_bot_paths() -> None:
    r = Redactor()
    r.learn("abc")  # too short to learn: would blank ordinary words
    r.learn("sup3r-secret")
    text = r("POST https://api/bot123:AAx-y_z/setWebhook secret=sup3r-secret abc")
    assert text == f"POST https://api/bot{MARK}/setWebhook secret={MARK} abc"
    log = MemoryLog()
    RedactingLog(log, r).write("warn", "token sup3r-secret")
    assert log.lines == [("warn", f"token {MARK}")]


TOKEN_CHARS = string.ascii_letters + string.digits + "_-"


@settings(max_examples=200, deadline=None)
@given(
    bot=st.integers(min_value=1, max_value=10**10),
    tail=st.text(TOKEN_CHARS, min_size=8, max_size=46),
    secret=st.text(TOKEN_CHARS, min_size=8, max_size=64),
    around=st.text(max_size=40),
)
def test_redaction_property_no_token_or_secret_survives(
    bot: int, tail: str, secret: str, around: str
) -> None:
    token = f"{bot}:{tail}"
    r = Redactor()
    r.learn(token)
    r.learn(secret)
    line = f"{around} https://api.telegram.org/bot{token}/sendMessage {secret}{around} {token}"
    out = r(line)
    assert token not in out and secret not in out


@pytest.mark.parametrize(
    ("status", "body", "transient", "fragment"),
    [
        (401, {"ok": False, "description": "Unauthorized"}, False, "401 Unauthorized"),
        (
            400,
            {"ok": False, "description": "Bad Request: bad webhook: Failed to resolve host"},
            True,
            "Failed to resolve host",
        ),
        (400, {"ok": False, "description": "Bad Request: bad webhook: HTTPS required"}, False, ""),
        (429, {"ok": False, "description": "Too Many Requests"}, True, "429"),
        (502, None, True, "HTTP 502: no description"),
        (200, {"ok": False, "description": "odd"}, False, "odd"),
    ],
)
def test_bot_api_answers_are_classified(
    status: int, body: object, transient: bool, fragment: str
) -> None:
    error = botapi.classify(status, body)
    assert error is not None
    assert error.transient is transient
    assert fragment in str(error)


def test_bot_api_ok_answer_is_not_an_error() -> None:
    assert botapi.classify(200, {"ok": True, "result": True}) is None
