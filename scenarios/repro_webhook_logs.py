"""Repro (regression guard): the webhook registration IS in the worker's own logs (fixed here).

seeds/000's troubleshooting row "Webhook registration not visible in kubectl logs": upstream's
greentic-start logged the registration to OTLP / `logs/system.log` only, so `kubectl logs`
(the pod's stdout) never showed it. This worker says it on stdout too, so the row is a guard
(`ROW.guard`): the symptom is asserted ABSENT, and upstream's fix still runs.

- symptom (absent here): `webhook registered: provider=telegram url=<public>/webhook/telegram …`
  is in the worker's stdout, what `kubectl logs` / `docker logs` shows of a pod.
- cause: upstream's place for it, `logs/system.log`, carries the same line (same URL).
- fix: upstream's — confirm with Telegram's getWebhookInfo, not kubectl logs.
- recovered: getWebhookInfo's URL is the one the stdout line and system.log name, with the
  allowed updates the worker asked for: the log line can be trusted.

Skip-fix (`GTC_REPRO_SKIP_FIX=1`): getWebhookInfo is never asked, so the recovered check that
Telegram agrees with the logs has no answer to compare and fails. As a guard the row cannot
make its symptom come back without breaking the product; what skip-fix proves here is that the
recovered phase rests on Telegram's own record, not on the log line it is checking.
"""

from __future__ import annotations

import re
from typing import Any

from harness import waits
from harness.context import ScenarioContext, ScenarioResult
from harness.errors import HarnessError
from harness.tracks import Capability, RunningWorker
from scenarios import _common as common
from scenarios import _repro as repro
from scenarios import _repro_tunnel as shared
from scenarios._tunnel import ALLOWED_UPDATES, WEBHOOK_PATH, match_line

# the worker is a local process behind local fakes (scenarios/tunnel.py's host path)
NEEDS = (Capability.LOCAL_PROCESS,)

ROW = repro.Row(
    name="webhook-logs",
    symptom="Webhook registration not visible in kubectl logs",
    cause="greentic-start logs registration via OTLP / system.log, not pod stdout.",
    fix="Confirm with Telegram getWebhookInfo, not kubectl logs.",
    guard=True,
)

SUFFIX = " secret_token=true token_source=webhook_secret_ref"
LOG_DEADLINE_S = 5.0


def registered_line(url: str) -> str:
    """The exact registration line for `url` (its deployment id is the worker's)."""
    head = re.escape(f"webhook registered: provider=telegram url={url} deployment=")
    return rf"{head}(\S+){re.escape(SUFFIX)}"


def run(ctx: ScenarioContext) -> ScenarioResult:
    setup = shared.prepare(ctx)
    tunneled = shared.start(ctx, setup)
    worker = tunneled.worker
    want_url = tunneled.public_url + WEBHOOK_PATH
    line = registered_line(want_url)

    # -- symptom: asserted absent — the registration IS in the pod's stdout ---------------------
    repro.symptom(ctx, f"{ROW.symptom} — fixed here: asserted absent")
    on_stdout = match_line(
        ctx, worker, rf"(?m)^({line})$", f"not the symptom: stdout (kubectl logs) has {want_url}"
    )

    # -- cause: where upstream put it, system.log, says the same --------------------------------
    repro.cause(ctx, ROW.cause)
    in_log, system_log = logged_in_system_log(worker, line)
    ctx.check(
        "logs/system.log (upstream's only place) carries the same registration line",
        in_log is not None and in_log.group(1) == on_stdout,
        in_log.group(1) if in_log else "no registration line in logs/system.log",
        evidence={"system.log": system_log, **common.worker_evidence(worker, "worker")},
    )

    # -- fix: upstream's — ask Telegram, not the logs --------------------------------------------
    told: dict[str, Any] = {}

    def ask_telegram() -> None:
        told.update(shared.webhook_info(setup))
        ctx.artifacts.write_json("evidence/getWebhookInfo.json", told)

    repro.fix(ctx, "confirm with getWebhookInfo (curl …/bot<token>/getWebhookInfo)", ask_telegram)

    # -- recovered: Telegram agrees with the log line ---------------------------------------------
    repro.recovered(ctx, f"getWebhookInfo shows {want_url}, as the logs say")
    ctx.check(
        f"getWebhookInfo: url {want_url}",
        told.get("url") == want_url,
        f"url {told.get('url')!r}" if told else "no getWebhookInfo answer (not asked)",
    )
    ctx.check(
        f"getWebhookInfo: allowed_updates {ALLOWED_UPDATES}",
        told.get("allowed_updates") == ALLOWED_UPDATES,
        f"allowed_updates {told.get('allowed_updates')!r}",
    )
    return ctx.result()


def logged_in_system_log(worker: RunningWorker, line: str) -> tuple[re.Match[str] | None, str]:
    """`line` as an INFO record of logs/system.log (written just after stdout: waits a moment)
    and the log's text."""
    pattern = re.compile(rf"^\S+ INFO  ({line})$", re.MULTILINE)
    text = [""]

    def attempt() -> re.Match[str] | None:
        text[0] = (worker.env_file("logs/system.log") or b"").decode("utf-8", "replace")
        return pattern.search(text[0])

    poll = waits.Poll(
        what="the registration in logs/system.log",
        attempt=attempt,
        timing=waits.Timing(timeout=LOG_DEADLINE_S),
    )
    try:
        return poll.run(), text[0]
    except HarnessError:
        return None, text[0]
