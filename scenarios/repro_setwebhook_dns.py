"""Repro: Telegram setWebhook fails to resolve a fresh tunnel host; the worker's retry rides it out.

seeds/000's troubleshooting row "Telegram setWebhook fails to resolve host". The fake Bot API
answers setWebhook with Telegram's `bad webhook: Failed to resolve host` for the first
`GTC_REPRO_DNS_WINDOW` seconds (default 3; a real fresh *.trycloudflare.com takes ~15-30 s)
from each worker start, and always for its first attempt.

- symptom: a worker started with no retry budget (`GREENTIC_WEBHOOK_REGISTER_TIMEOUT=0`: one
  attempt, as upstream's manual setWebhook) logs `webhook registration failed (gave up
  retrying) … Failed to resolve host`, and getWebhookInfo shows no URL.
- cause: the refused URL is the fresh tunnel's host, refused within its DNS window.
- fix: wait — restart the worker with the default budget (variable unset), whose bounded
  retry with backoff rides out the new tunnel's window; the retry lines are printed.
- recovered: `webhook registered: …` logged and getWebhookInfo shows `<public>/webhook/telegram`.

Skip-fix (`GTC_REPRO_SKIP_FIX=1`): no restart, so the recovered probes read the no-retry worker,
which gave up: no registration line and an empty getWebhookInfo URL — recovered fails.
"""

from __future__ import annotations

import os
import re

from harness.context import ScenarioContext, ScenarioResult
from harness.errors import HarnessError
from harness.fakes import telegram as fake_telegram
from harness.tracks import Capability
from scenarios import _common as common
from scenarios import _repro as repro
from scenarios import _repro_tunnel as shared
from scenarios._tunnel import WEBHOOK_PATH

# the worker is a local process behind local fakes (scenarios/tunnel.py's host path)
NEEDS = (Capability.LOCAL_PROCESS,)

ROW = repro.Row(
    name="setwebhook-dns",
    symptom="Telegram setWebhook fails to resolve host",
    cause="Fresh *.trycloudflare.com not yet globally resolvable, or local DNS can't resolve it.",
    fix="Wait ~15–30s (the worker retries setWebhook with backoff within "
    "GREENTIC_WEBHOOK_REGISTER_TIMEOUT, 90 s by default); then confirm with getWebhookInfo.",
)

WINDOW_ENV = "GTC_REPRO_DNS_WINDOW"
DEFAULT_WINDOW_S = 3.0
BUDGET_ENV = "GREENTIC_WEBHOOK_REGISTER_TIMEOUT"


def window_s() -> float:
    """How long a fresh tunnel host stays unresolvable at the fake (seconds)."""
    raw = os.environ.get(WINDOW_ENV, "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_WINDOW_S
    except ValueError:
        raise HarnessError(f"{WINDOW_ENV}={raw!r} is not a number of seconds") from None


def run(ctx: ScenarioContext) -> ScenarioResult:
    setup = shared.prepare(ctx)
    api = shared.fake_api(setup)
    window = window_s()

    # -- symptom: one attempt, refused; nothing registered ----------------------------------
    api.fail_set_webhook(1, seconds=window)  # a fresh tunnel: its host does not resolve yet
    current = shared.start(ctx, setup, env={BUDGET_ENV: "0"})
    repro.symptom(ctx, ROW.symptom)
    outcome = shared.registration_outcome(ctx, current.worker)
    want = (
        re.escape(
            "webhook registration failed (gave up retrying): provider=telegram "
            f"url={current.public_url}{WEBHOOK_PATH} deployment="
        )
        + r"\S+"
        + re.escape(f" error=HTTP 400: {fake_telegram.RESOLVE_FAILURE}")
    )
    ctx.check(
        "the worker logs: webhook registration failed … Failed to resolve host",
        re.fullmatch(want, outcome) is not None,
        outcome,
        evidence=common.worker_evidence(current.worker, "worker"),
    )
    info = shared.webhook_info(setup)
    ctx.check(
        "getWebhookInfo: no URL registered", info.get("url") == "", f"url {info.get('url')!r}"
    )

    # -- cause: the fresh tunnel host, refused inside its DNS window ---------------------------
    repro.cause(ctx, ROW.cause)
    calls = api.calls("setWebhook")
    host = current.public_url.removeprefix("https://")
    refused = [c for c in calls if not c.ok]
    ctx.check(
        f"Telegram refused the fresh host {host}: {fake_telegram.RESOLVE_FAILURE}",
        len(calls) == 1
        and bool(refused)
        and refused[0].description == fake_telegram.RESOLVE_FAILURE
        and refused[0].params.get("url") == current.public_url + WEBHOOK_PATH,
        "; ".join(shared.attempts(api)) or "no setWebhook call",
    )

    # -- fix: let the worker retry (default budget) through the next fresh host's window -------
    seen = shared.last_seq(api)

    def restart_with_default_budget() -> None:
        nonlocal current
        shared.stop(ctx, current.worker)
        api.fail_set_webhook(1, seconds=window)  # the restart opens a new, fresh tunnel host
        current = shared.start(ctx, setup)  # GREENTIC_WEBHOOK_REGISTER_TIMEOUT unset: 90 s
        shared.registration_outcome(ctx, current.worker)
        for line in shared.attempts(api, since_seq=seen):
            ctx.step(f"  retry: {line}")

    repro.fix(
        ctx,
        f"wait: restart the worker with the default retry budget ({BUDGET_ENV} unset); "
        f"it retries setWebhook with backoff through the new host's ~{window:g} s window",
        restart_with_default_budget,
    )

    # -- recovered: registered, and Telegram has the URL --------------------------------------
    repro.recovered(ctx, "the webhook is registered and getWebhookInfo shows its URL")
    want_url = current.public_url + WEBHOOK_PATH
    logged = re.search(
        rf"^webhook registered: provider=telegram url={re.escape(want_url)} .*$",
        current.worker.stdout(),
        re.MULTILINE,
    )
    ctx.check(
        f"the worker logs: webhook registered: provider=telegram url={want_url}",
        logged is not None,
        logged.group(0).strip() if logged else "no registration line on stdout",
        evidence=common.worker_evidence(current.worker, "worker"),
    )
    info = shared.webhook_info(setup)
    ctx.check(
        f"getWebhookInfo: url {want_url}", info.get("url") == want_url, f"url {info.get('url')!r}"
    )
    retried = [c for c in api.calls("setWebhook") if c.seq > seen]
    ctx.check(
        "registered after retrying through the refusals",
        len(retried) >= 2 and not retried[0].ok and retried[-1].ok,
        f"{len(retried)} attempt(s) after the restart",
    )
    shared.stop(ctx, current.worker)
    return ctx.result()
