"""What the tunnel scenario checks on every track: its constants, the Telegram Update it sends,
and the checks that read only the worker's output and the fake Bot API's record.

scenarios/tunnel.py (the host: a local worker process and local fakes) and
scenarios/_tunnel_pods.py (a pod track: seeds/000's manifest pair applied, rendered and run
as pods, the fakes on the pod network) share these, so both tracks assert the same things.
"""

from __future__ import annotations

import json
import random
import secrets
from typing import Any

import httpx

from greentic.secrets import DevStore
from harness import waits
from harness.context import ScenarioContext
from harness.errors import HarnessError
from harness.fakes import bot_api
from harness.tracks import RunningWorker
from scenarios import _common as common

ENV_ID = "local"
BUNDLE_ID = "webchat-bot"
FIXTURE = "webchat-bot.gtbundle"
ENDPOINT = "webchat-bot"
PROVIDER_TYPE = "messaging.telegram.bot"  # seeds/000 messaging_endpoints[]
DEV_STORE_KIND = "greentic.secrets.dev-store@0.1.0"
TOKEN_PATH = "tenant-default/_/messaging-telegram/telegram_bot_token"  # seeds/000 secrets[]
TOKEN_ENV = "TELEGRAM_DEMO_BOT_TOKEN"
BOT = "demo-bot"  # the fake Bot API records each call with this label, never the token
API_BASE_ENV = "GREENTIC_TELEGRAM_API_BASE"
REAL_API_BASE = "https://api.telegram.org"
READY_TIMEOUT_ENV = "GREENTIC_TUNNEL_READY_TIMEOUT"  # 0: no HEAD probe to the real internet

BANNER = r"serving 1 revision\(s\) for env `local`"
PUBLIC_URL = r"public URL: (https://[a-z0-9-]+\.trycloudflare\.com) \(cloudflared tunnel\)"
ADMIN = r"admin/console listening on (http://127\.0\.0\.1:\d+)"
REGISTERED = r"webhook registered: provider=telegram url=(\S+)"
WEBHOOK_PATH = "/webhook/telegram"
ALLOWED_UPDATES = ["message", "callback_query", "edited_message"]
CHAT_ID = 4242
EXPECT_REPLY = "Hello from webchat-bot! You said: hi"  # fixtures/bundles/src/webchat-bot flow
DEADLINE_S = 20.0
HTTP_TIMEOUT_S = 5.0


def update(update_id: int, text: str = "hi") -> dict[str, Any]:
    """A Telegram Update with one private text message to CHAT_ID."""
    user = {"id": CHAT_ID, "is_bot": False, "first_name": "Ada"}
    message = {"message_id": update_id, "from": user, "date": 1_700_000_000, "text": text}
    message["chat"] = {"id": CHAT_ID, "type": "private", "first_name": "Ada"}
    return {"update_id": update_id, "message": message}


def new_bot_token() -> str:
    """A fresh token in Telegram's shape (`<bot id>:<35 chars>`), unique to this run, so a
    scan of the artifacts for it means something."""
    return f"{random.SystemRandom().randint(10**9, 10**10 - 1)}:AA{secrets.token_urlsafe(25)[:33]}"


def authored_secret(ctx: ScenarioContext, ref: str) -> str | None:
    """The value of `secret://…` in the authored dev-store of env `local` (None: absent)."""
    store = DevStore(ctx.store_root / ENV_ID / ".greentic" / "dev" / ".dev.secrets.env")
    return store.get(ref.replace("secret://", "secrets://", 1))


# -- checks -------------------------------------------------------------------------------
def match_line(ctx: ScenarioContext, worker: RunningWorker, regex: str, name: str) -> str:
    """The first group of the first stdout line matching `regex` (waits for it)."""
    try:
        wait = waits.until_log(worker, regex, text=worker.stdout)
        match = wait.within(DEADLINE_S).wait()
    except HarnessError as exc:
        ctx.fail(name, str(exc), evidence=common.worker_evidence(worker, "worker"))
    ctx.check(name, True, match.group(0))
    return match.group(1)


def check_registration(
    ctx: ScenarioContext,
    api: bot_api.BotApiControl,
    worker: RunningWorker,
    public_url: str,
    secret: str,
) -> None:
    """Exactly one setWebhook, for `<url>/webhook/telegram` with the endpoint's secret, and the
    outcome logged to stdout and logs/system.log."""
    registered = match_line(ctx, worker, REGISTERED, "webhook registration logged on stdout")
    calls = api.calls("setWebhook")
    want_url = public_url + WEBHOOK_PATH
    ok = (
        len(calls) == 1
        and calls[0].ok
        and calls[0].bot == BOT
        and calls[0].params.get("url") == want_url
        and calls[0].params.get("secret_token") == secret
        and calls[0].params.get("allowed_updates") == ALLOWED_UPDATES
        and registered == want_url
    )
    ctx.check(
        f"setWebhook called once: {want_url}, the endpoint's secret, {ALLOWED_UPDATES}",
        ok,
        f"{len(calls)} call(s)" if ok else f"calls: {[c.redacted() for c in calls]}",
        evidence={"set-webhook.json": [c.redacted() for c in calls]},
    )
    system_log = (worker.env_file("logs/system.log") or b"").decode("utf-8", "replace")
    common.expect_text(ctx, "registration in logs/system.log", system_log, "webhook registered")


def status_of(method: str, url: str, **kw: Any) -> int:
    with httpx.Client(timeout=HTTP_TIMEOUT_S, trust_env=False) as client:
        return client.request(method, url, **kw).status_code


def check_round_trip(ctx: ScenarioContext, api: bot_api.BotApiControl) -> None:
    """An Update with the registered secret gets the flow's reply via sendMessage; a wrong or
    missing secret is 401 and sends nothing."""
    delivered = api.deliver(update(1))
    ctx.check(
        "Update with the right secret → 200",
        delivered.status == 200,
        f"HTTP {delivered.status} {delivered.body[:200]!r} {delivered.error or ''}".strip(),
    )
    try:
        [sent] = api.wait_calls("sendMessage", timeout=DEADLINE_S)
    except (HarnessError, ValueError) as exc:
        ctx.fail("sendMessage with the flow's reply", str(exc))
    ok = sent.ok and sent.bot == BOT and sent.params == {"chat_id": CHAT_ID, "text": EXPECT_REPLY}
    ctx.check(
        f"sendMessage to chat {CHAT_ID}: {EXPECT_REPLY!r}",
        ok,
        f"as {sent.bot}" if ok else f"got {sent.redacted()}",
    )
    for name, secret in (("wrong", "not-the-secret"), ("missing", None)):
        refused = api.deliver(update(2), secret=secret)
        ctx.check(
            f"Update with a {name} secret → 401", refused.status == 401, f"HTTP {refused.status}"
        )
    sends = len(api.calls("sendMessage"))
    ctx.check("refused Updates sent nothing", sends == 1, f"{sends} sendMessage call(s)")


def record_calls(ctx: ScenarioContext, api: bot_api.BotApiControl) -> None:
    """At teardown, pass or fail: every Bot API call the fake answered (secrets masked)."""
    try:
        calls = [c.redacted() for c in api.calls()]
    except HarnessError as exc:
        calls = [{"error": str(exc)}]
    ctx.artifacts.write_json("telegram-calls.json", calls)


def check_fake_saw_only_bot_api(ctx: ScenarioContext, api: bot_api.BotApiControl) -> None:
    try:
        api.check_assertions()
    except HarnessError as exc:
        ctx.fail("the fake Bot API saw only Bot API requests", str(exc))
    ctx.check("the fake Bot API saw only Bot API requests", True)


def check_no_secret_leaked(ctx: ScenarioContext, values: dict[str, str]) -> None:
    """No file under the run's artifacts (worker output, logs, evidence, op records, the
    worker's own logs/) holds a secret in clear."""
    for what, value in values.items():
        needles = {value.encode(), json.dumps(value).encode()[1:-1]}
        hits = [
            str(p.relative_to(ctx.artifacts.dir))
            for p in sorted(ctx.artifacts.dir.rglob("*"))
            if p.is_file() and not p.is_symlink() and any(n in p.read_bytes() for n in needles)
        ]
        ctx.check(
            f"the {what} is in no output, log or artifact",
            not hits,
            f"scanned {ctx.artifacts.dir}" if not hits else f"found in {hits[:10]}",
        )
