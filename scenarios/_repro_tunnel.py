"""What the tunnel/Telegram troubleshooting repros share: a Telegram-linked env behind the fake
tunnel, and the probes an operator uses on it (getWebhookInfo, the worker's log lines).

Authoring and booting are scenarios/tunnel.py's own `prepare`/`boot`/`stop_worker` (its host
path), its constants and checks scenarios/_tunnel.py's, so a repro starts exactly the worker the
tunnel scenario checks. Added here: boot-and-read-the-banner in one call, `getWebhookInfo` as
the operator calls it (`/bot<token>/getWebhookInfo`, the token never shown), the registration
outcome line, and the fake's setWebhook attempts as retry lines. Used by
scenarios/repro_setwebhook_dns.py, repro_chat_over_tunnel.py and repro_webhook_logs.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from harness import waits
from harness.context import ScenarioContext
from harness.errors import HarnessError
from harness.fakes import bot_api
from harness.tracks import RunningWorker
from scenarios import _common as common
from scenarios import tunnel
from scenarios._tunnel import ADMIN, BANNER, DEADLINE_S, HTTP_TIMEOUT_S, PUBLIC_URL, match_line

# the registration outcome, either way (success on stdout, failure on stderr as `warning: …`)
REGISTERED_LINE = r"webhook registered: provider=telegram url=\S+ .*"
FAILED_LINE = r"webhook registration failed[^\n]*"
OUTCOME = re.compile(rf"^(?:warning: )?({REGISTERED_LINE}|{FAILED_LINE})$", re.MULTILINE)


@dataclass(frozen=True)
class Tunneled:
    """A booted worker behind the fake tunnel, with the URLs its banner printed."""

    setup: tunnel.Setup
    api: bot_api.FakeBotApi
    worker: RunningWorker
    public_url: str
    admin_url: str


def prepare(ctx: ScenarioContext) -> tunnel.Setup:
    """The tunnel scenario's store (bundle routed, Telegram endpoint linked, bot token sealed)
    and its fakes (cloudflared, Bot API)."""
    return tunnel.prepare(ctx)


def fake_api(setup: tunnel.Setup) -> bot_api.FakeBotApi:
    if setup.api is None:
        raise HarnessError(
            "the tunnel repros run against the fake Bot API (prepare without a token)"
        )
    return setup.api


def start(
    ctx: ScenarioContext, setup: tunnel.Setup, *, env: dict[str, str] | None = None
) -> Tunneled:
    """Boot the tunneled worker (`env` overrides its variables) and read its banner's URLs."""
    worker = tunnel.boot(ctx, setup, env=env)
    common.expect_banner(ctx, worker, BANNER, DEADLINE_S)
    public_url = match_line(ctx, worker, PUBLIC_URL, "public URL printed")
    admin_url = match_line(ctx, worker, ADMIN, "admin listener printed")
    return Tunneled(setup, fake_api(setup), worker, public_url, admin_url)


def stop(ctx: ScenarioContext, worker: RunningWorker) -> int:
    """`greentic-start stop --env local`, as the operator stops a host worker; its exit code."""
    return tunnel.stop_worker(ctx, worker)


def registration_outcome(ctx: ScenarioContext, worker: RunningWorker) -> str:
    """The worker's one registration outcome line (registered, or failed), once it is out."""
    try:
        wait = waits.until_log(worker, OUTCOME, text=worker.logs)
        match = wait.within(DEADLINE_S + 90.0).wait()  # the default budget is 90 s
    except HarnessError as exc:
        ctx.fail("webhook registration outcome logged", str(exc))
    return match.group(1)


def webhook_info(setup: tunnel.Setup) -> dict[str, Any]:
    """`GET /bot<token>/getWebhookInfo` at the Bot API the worker uses: the `result` object.

    What upstream's guide has the operator run (`curl …/getWebhookInfo`); errors never carry
    the URL, which holds the token."""
    url = f"{setup.api_base}/bot{setup.token}/getWebhookInfo"
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT_S, trust_env=False) as client:
            response = client.get(url)
        doc = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise HarnessError(
            f"getWebhookInfo at {setup.api_base} did not answer ({type(exc).__name__})"
        ) from None
    result = doc.get("result") if isinstance(doc, dict) else None
    if response.status_code != 200 or not isinstance(result, dict):
        raise HarnessError(f"getWebhookInfo answered HTTP {response.status_code}: {doc!r:.300}")
    return result


def attempts(api: bot_api.BotApiControl, since_seq: int = 0) -> list[str]:
    """The setWebhook calls the fake answered after call `since_seq`, one line each with its
    offset from the first: the worker's retries and their backoff, as Telegram saw them."""
    calls = [
        c
        for c in api.state()["calls"]
        if c.get("method") == "setWebhook" and int(c.get("seq", 0)) > since_seq
    ]
    first = float(calls[0]["at"]) if calls else 0.0
    return [
        f"setWebhook attempt {n} at +{float(c['at']) - first:.2f}s → HTTP {c['status']} "
        f"{c.get('description') or ''}".rstrip()
        for n, c in enumerate(calls, 1)
    ]


def last_seq(api: bot_api.BotApiControl) -> int:
    """The sequence number of the last call the fake answered (0: none yet)."""
    return max((int(c.get("seq", 0)) for c in api.state()["calls"]), default=0)
