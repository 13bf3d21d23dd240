"""Telegram Bot API calls: setWebhook at boot, sendMessage for replies, deleteWebhook at stop.

Runs off the request path (background threads) and never raises into the server: outcomes
are lines for stdout and `system.log`, redacted (a `bot<token>` URL is never shown). Transient
failures (network, 429, 5xx, and the 400 `Failed to resolve host` a fresh tunnel host gives for
15-30 s) are retried with exponential backoff within a budget; a 401 is a bad token, said once.
Registrations are recorded in `state/runtime/env.<env>/webhooks.json` so `stop` can delete them.
httpx and tenacity are imported here only, so a worker without Telegram never loads them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greentic.errors import GreenticError
from greentic.worker import telegram
from greentic.worker.redact import Redactor

REGISTER_BUDGET_ENV = "GREENTIC_WEBHOOK_REGISTER_TIMEOUT"
DEFAULT_REGISTER_BUDGET = 90.0
CALL_TIMEOUT = 10.0
MAX_PENDING_SENDS = 64


class BotApiError(Exception):
    """Raised when a Bot API call fails; `transient` says whether a retry may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def api_base(environ: Mapping[str, str]) -> str:
    return (environ.get(telegram.API_BASE_ENV, "").strip() or telegram.DEFAULT_API_BASE).rstrip("/")


def classify(status: int, body: Any) -> BotApiError | None:
    """None for a 2xx `ok` answer, else the error (transient or not) it means."""
    description = body.get("description") if isinstance(body, dict) else None
    detail = str(description) if description else "no description"
    if 200 <= status < 300 and isinstance(body, dict) and body.get("ok") is True:
        return None
    if status == 401:
        return BotApiError(
            "Telegram rejected the bot token (401 Unauthorized): check the telegram_bot_token "
            "secret in the dev-store",
            transient=False,
        )
    if status == 429 or status >= 500 or "failed to resolve host" in detail.lower():
        return BotApiError(f"HTTP {status}: {detail}", transient=True)
    return BotApiError(f"HTTP {status}: {detail}", transient=False)


def call(
    base: str,
    token: str,
    method: str,
    payload: Mapping[str, Any],
    *,
    timeout: float = CALL_TIMEOUT,
    client: Any = None,
) -> Any:
    """POST `{base}/bot<token>/{method}` as JSON (through `client`, an `httpx.Client`, when
    given: replies reuse one connection); the answer's body, or a BotApiError whose text never
    holds the token (httpx messages can carry the URL, so they are not passed on)."""
    import httpx

    post = client.post if client is not None else httpx.post
    try:
        resp = post(f"{base}/bot{token}/{method}", json=dict(payload), timeout=timeout)
    except httpx.HTTPError as exc:
        raise BotApiError(
            f"Telegram Bot API at {base} unreachable ({type(exc).__name__})", transient=True
        ) from None
    try:
        body = resp.json()
    except ValueError:
        body = None
    error = classify(resp.status_code, body)
    if error is not None:
        raise error
    return body


@dataclass(frozen=True)
class Secrets:
    """What registration needs from the dev-store reader (get → value or None)."""

    get: Callable[[str], str | None]
    path: Path


class Missing(Exception):
    """Raised when a secret a call needs is not in the dev-store (the message names it)."""


def need(secrets: Secrets, ref: str, what: str) -> str:
    try:
        value = secrets.get(ref)
    except GreenticError as exc:
        raise Missing(f"{what} `{ref}` cannot be read: {exc.message}") from None
    if value is None:
        raise Missing(
            f"{what} `{ref}` is missing from the dev-store {secrets.path} "
            f"(put it with `gtc op secrets put {ref.split('/', 3)[-1]} --from-env VAR`)"
        )
    return value


def register(
    plan: telegram.WebhookPlan,
    secrets: Secrets,
    base: str,
    *,
    budget: float,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """setWebhook for one plan, retrying transient failures within `budget` seconds."""
    from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

    token = need(secrets, plan.bot_token_ref, "bot token")
    secret = need(secrets, plan.webhook_secret_ref, "webhook secret")
    payload = {
        "url": plan.url,
        "allowed_updates": list(telegram.ALLOWED_UPDATES),
        "secret_token": secret,
    }
    for attempt in Retrying(
        stop=stop_after_delay(budget),
        wait=wait_exponential(multiplier=0.5, min=0.5, max=8),
        retry=retry_if_exception(lambda e: isinstance(e, BotApiError) and e.transient),
        reraise=True,
        sleep=sleep,
    ):
        with attempt:
            call(base, token, "setWebhook", payload)


def records_path(runtime_dir: Path) -> Path:
    return runtime_dir / "webhooks.json"


def record(runtime_dir: Path, plan: telegram.WebhookPlan, base: str) -> None:
    """Remember a registration (refs and URLs only) so `stop` can delete it."""
    from greentic.store import atomic

    path = records_path(runtime_dir)
    entries = [e for e in read_records(path) if e.get("deployment_id") != plan.deployment_id]
    entries.append(
        {
            "provider": "telegram",
            "url": plan.url,
            "deployment_id": plan.deployment_id,
            "endpoint_id": plan.endpoint_id,
            "api_base": base,
            "bot_token_ref": plan.bot_token_ref,
        }
    )
    atomic.write_json(path, entries, durable=False)


def read_records(path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return []
    return [e for e in doc if isinstance(e, dict)] if isinstance(doc, list) else []


def register_all(
    plans: list[telegram.WebhookPlan],
    secrets: Secrets,
    base: str,
    *,
    budget: float,
    runtime_dir: Path,
    say: Callable[[str], None],
    warn: Callable[[str], None],
) -> None:
    """Register every plan; each outcome is one line (success via `say`, failure via `warn`)."""
    for plan in plans:
        where = f"provider=telegram url={plan.url} deployment={plan.deployment_id}"
        try:
            register(plan, secrets, base, budget=budget)
        except Missing as exc:
            warn(f"webhook registration skipped: {where}: {exc}")
            continue
        except BotApiError as exc:
            retried = " (gave up retrying)" if exc.transient else ""
            warn(f"webhook registration failed{retried}: {where} error={exc}")
            continue
        try:
            record(runtime_dir, plan, base)
        except OSError as exc:
            warn(f"cannot record the webhook for `greentic-start stop` ({exc.strerror or exc})")
        say(f"webhook registered: {where} secret_token=true token_source=webhook_secret_ref")


def delete_recorded(runtime_dir: Path, secrets: Secrets) -> list[str]:
    """deleteWebhook for each recorded registration; one report line each. Clears the record."""
    path = records_path(runtime_dir)
    lines: list[str] = []
    for entry in read_records(path):
        where = f"provider=telegram url={entry.get('url')} deployment={entry.get('deployment_id')}"
        try:
            token = need(secrets, str(entry.get("bot_token_ref")), "bot token")
            call(str(entry.get("api_base")), token, "deleteWebhook", {})
        except (Missing, BotApiError) as exc:
            lines.append(f"warning: could not delete webhook: {where}: {exc}")
            continue
        lines.append(f"deleted webhook: {where}")
    path.unlink(missing_ok=True)
    return lines


class Sender:
    """Sends flow replies with sendMessage on a small pool, off the request path (bounded)."""

    def __init__(
        self, secrets: Secrets, base: str, redact: Redactor, warn: Callable[[str], None]
    ) -> None:
        self.secrets = secrets
        self.base = base
        self.redact = redact
        self.warn = warn
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="telegram-send")
        self.slots = threading.BoundedSemaphore(MAX_PENDING_SENDS)  # replies queued or in flight
        self._client: Any = None  # one httpx.Client for every reply (TLS set up once)
        self._client_lock = threading.Lock()

    def client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(timeout=CALL_TIMEOUT)
            return self._client

    def send(self, token_ref: str, chat_id: int | str, texts: list[str]) -> None:
        if not self.slots.acquire(blocking=False):
            self.warn(f"dropping a Telegram reply to chat {chat_id}: too many replies pending")
            return
        self.pool.submit(self._send, token_ref, chat_id, texts)

    def _send(self, token_ref: str, chat_id: int | str, texts: list[str]) -> None:
        try:
            token = need(self.secrets, token_ref, "bot token")
            for text in texts:
                payload = {"chat_id": chat_id, "text": text}
                call(self.base, token, "sendMessage", payload, client=self.client())
        except (Missing, BotApiError) as exc:
            self.warn(f"sendMessage to chat {chat_id} failed: {self.redact(str(exc))}")
        except Exception as exc:  # a thread must not die silently
            self.warn(f"sendMessage to chat {chat_id} failed: {type(exc).__name__}")
        finally:
            self.slots.release()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None
