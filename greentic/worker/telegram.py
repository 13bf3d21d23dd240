"""Telegram, the pure half: public base URL, webhook plans, the secret-token gate, Updates.

Base URL precedence (reference worker §6.3): this boot's tunnel URL, then
`host_config.public_base_url`, then `$PUBLIC_BASE_URL`, each normalised to an origin. A plan
per routed deployment with a Telegram endpoint linked to its bundle: url `<base>/webhook/telegram`,
secret token = the endpoint's webhook secret, bot token at
`secret://<env>/<tenant>/_/messaging-telegram/telegram_bot_token`. Inbound, the
`X-Telegram-Bot-Api-Secret-Token` header must match a linked endpoint's secret (constant time).
I/O lives in `botapi` and `app`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from greentic.spec.environment import Environment, MessagingEndpoint
from greentic.worker.activation import Activation

API_BASE_ENV = "GREENTIC_TELEGRAM_API_BASE"
DEFAULT_API_BASE = "https://api.telegram.org"
PUBLIC_BASE_URL_ENV = "PUBLIC_BASE_URL"
WEBHOOK_PATH = "/webhook/telegram"
ALLOWED_UPDATES = ("message", "callback_query", "edited_message")
SECRET_HEADER = "x-telegram-bot-api-secret-token"
MISSING_HEADER = "missing x-telegram-bot-api-secret-token header"
NO_MATCH = "x-telegram-bot-api-secret-token did not match any registered endpoint"
NOT_LINKED = (
    "no Telegram messaging endpoint is linked to the bundle routed here "
    "(link one with `gtc op messaging endpoint link-bundle`)"
)
SKIP_NO_URL = (
    "skipping webhook auto-registration: no configured PUBLIC_BASE_URL "
    "(register the provider webhook manually)"
)
NO_ROUTES = "webhook auto-registration: no provider-ingest routes to register"
BOT_TOKEN_CATEGORY = "messaging-telegram"
BOT_TOKEN_NAME = "telegram_bot_token"


@dataclass(frozen=True)
class TelegramSide:
    """What `POST /webhook/telegram` needs: the endpoints, a dev-store read (re-read per
    request, so a rotated secret counts at once) and a background `send(token_ref, chat, texts)`."""

    env: Environment
    secret: Callable[[str], str | None]
    send: Callable[[str, int | str, list[str]], None]


def is_telegram(provider_type: str) -> bool:
    """Telegram-class: `telegram` or `telegram.*`, after an optional `messaging.` prefix."""
    kind = provider_type.removeprefix("messaging.")
    return kind == "telegram" or kind.startswith("telegram.")


def normalize_origin(value: str, name: str) -> str:
    """`scheme://host[:port]` of `value`, or a ValueError naming `name` and what is wrong."""
    text = value.strip()
    if not text:
        raise ValueError(f"{name} must not be empty")
    if any(c.isspace() for c in text):
        raise ValueError(f"{name} `{text}` must not contain whitespace")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(f"{name} `{text}` is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{name} `{text}` must use http or https")
    if not parts.hostname:
        raise ValueError(f"{name} `{text}` must name a host")
    if parts.query or parts.fragment:
        raise ValueError(f"{name} `{text}` must not have a query")
    if parts.path not in ("", "/"):
        raise ValueError(f"{name} must be an origin without a path (got `{text}`)")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def public_base_url(
    tunnel_url: str | None, configured: str | None, environ: Mapping[str, str]
) -> tuple[str | None, list[str]]:
    """The base URL webhooks point at, and warnings for values that were ignored."""
    warnings: list[str] = []
    sources = (
        ("the cloudflared tunnel URL", tunnel_url),
        ("environment.host_config.public_base_url", configured),
        (PUBLIC_BASE_URL_ENV, environ.get(PUBLIC_BASE_URL_ENV)),
    )
    for name, value in sources:
        if value is None or not value.strip():
            continue
        try:
            return normalize_origin(value, name), warnings
        except ValueError as exc:
            warnings.append(f"ignoring {exc}")
    return None, warnings


def bot_token_ref(env_id: str, tenant: str) -> str:
    """Where the deployer's manifest puts a tenant's bot token (category fixed)."""
    return f"secret://{env_id}/{tenant}/_/{BOT_TOKEN_CATEGORY}/{BOT_TOKEN_NAME}"


def linked_endpoints(env: Environment, bundle_id: str) -> list[MessagingEndpoint]:
    """Telegram endpoints with a webhook secret linked to `bundle_id`, in env order."""
    return [
        ep
        for ep in env.messaging_endpoints
        if is_telegram(ep.provider_type)
        and ep.webhook_secret_ref
        and bundle_id in ep.linked_bundles
    ]


def served_bundles_linked(env: Environment, activation: Activation) -> bool:
    """Whether a served bundle has a Telegram endpoint linked (then the worker needs secrets)."""
    return any(linked_endpoints(env, d.route.bundle_id) for d in activation.deployments)


@dataclass(frozen=True)
class WebhookPlan:
    """One setWebhook to make: where, for which deployment, with which secrets (refs only)."""

    deployment_id: str
    bundle_id: str
    tenant: str
    endpoint_id: str
    url: str
    webhook_secret_ref: str
    bot_token_ref: str


def plans(
    env: Environment, activation: Activation, base: str
) -> tuple[list[WebhookPlan], list[str]]:
    """The registrations of the served deployments (first linked endpoint each) and warnings."""
    out: list[WebhookPlan] = []
    warnings: list[str] = []
    url = base.rstrip("/") + WEBHOOK_PATH
    for dep in activation.deployments:
        route = dep.route
        eps = linked_endpoints(env, route.bundle_id)
        if not eps:
            continue
        if len(eps) > 1:
            warnings.append(
                f"{len(eps) - 1} more Telegram endpoint(s) linked to bundle `{route.bundle_id}` "
                f"are not registered (one webhook per bot): using endpoint {eps[0].endpoint_id}"
            )
        ep = eps[0]
        assert ep.webhook_secret_ref is not None
        out.append(
            WebhookPlan(
                deployment_id=route.deployment_id,
                bundle_id=route.bundle_id,
                tenant=route.tenant,
                endpoint_id=ep.endpoint_id,
                url=url,
                webhook_secret_ref=ep.webhook_secret_ref,
                bot_token_ref=bot_token_ref(env.environment_id, route.tenant),
            )
        )
    return out, warnings


def match_secret(header: str | None, secrets: Sequence[tuple[str, str]]) -> str | None:
    """The endpoint id whose secret equals `header` (constant-time per candidate), or None.

    Every candidate is compared, so the time taken does not say which one matched."""
    if header is None:
        return None
    given = header.encode()
    found: str | None = None
    for endpoint_id, secret in secrets:
        if hmac.compare_digest(given, secret.encode()) and found is None:
            found = endpoint_id
    return found


@dataclass(frozen=True)
class Message:
    """The part of a Telegram Update a flow needs."""

    chat_id: int | str
    text: str
    user: str | None = None


def parse_update(doc: Any) -> Message | None:
    """The text message of an Update (`message` or `edited_message`), or None for any other
    shape (callback queries, stickers, garbage): acknowledged, never an error."""
    if not isinstance(doc, dict):
        return None
    msg = doc.get("message") or doc.get("edited_message")
    if not isinstance(msg, dict):
        return None
    text = msg.get("text")
    chat = msg.get("chat")
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    if not isinstance(text, str) or not text or isinstance(chat_id, bool):
        return None
    if not isinstance(chat_id, int | str) or chat_id == "":
        return None
    sender = msg.get("from")
    user = sender.get("id") if isinstance(sender, dict) else None
    return Message(chat_id=chat_id, text=text, user=str(user) if user is not None else None)


def reply_texts(items: Sequence[Any]) -> list[str]:
    """The texts of a flow's reply items (items without a string `text` are skipped)."""
    out: list[str] = []
    for item in items:
        text = (
            item.get("text") if isinstance(item, dict) else item if isinstance(item, str) else None
        )
        if isinstance(text, str) and text:
            out.append(text)
    return out
