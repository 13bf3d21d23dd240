"""A worker behind a cloudflared quick tunnel registers its Telegram webhook and answers updates.

Size: one scenario's three phases plus the prepare/boot steps its failure and `net` tests reuse.

SPEC §7 (Tunnel) and §9 `tunnel`, seeds/000's Telegram-via-tunnel path with fakes for the
internet: a fake cloudflared (quick-tunnel banner, loopback edge) and a fake Telegram Bot API.
The store is authored with `gtc op` (webchat-bot routed, a Telegram endpoint linked to it, the
bot token sealed in the dev-store); the worker starts with `--cloudflared on`. Checks: the
public URL, one setWebhook with the endpoint's secret, the loopback-trust split (main port and
tunnel: /chat 405, /workers/invoke 403; admin port: /chat 200), an Update with the right secret
answered through sendMessage, a wrong or missing secret 401, deleteWebhook on
`greentic-start stop`, and the bot token in no output, log or artifact.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from greentic.secrets import DevStore
from harness import waits
from harness.context import ScenarioContext, ScenarioResult
from harness.errors import HarnessError
from harness.fakes import bot_api, edges
from harness.host.track import greentic_start_binary
from harness.op import Gtc
from harness.tracks import Capability, RunningWorker
from scenarios import _common as common

# the worker is a local process that takes start flags and reaches the loopback fakes
NEEDS = (Capability.LOCAL_PROCESS,)

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
SOURCES = {
    "http": common.PullSource(
        "prepare: serve the bundle from a loopback HTTP distributor", "distributor"
    )
}


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


@dataclass(frozen=True)
class Setup:
    """What `prepare` made: the secrets it sealed and the internet the worker will face."""

    token: str
    webhook_secret: str
    cloudflared: Path
    api_base: str
    worker_env: dict[str, str]
    registry: edges.EdgeRegistry
    api: bot_api.FakeBotApi | None  # None when facing the real Bot API (`net` test)


def prepare(
    ctx: ScenarioContext, *, token: str | None = None, cloudflared: Path | None = None
) -> Setup:
    """Author the store with gtc op (bundle routed, Telegram endpoint linked, bot token sealed)
    and set up the internet: the fakes, or a real cloudflared / a real bot token when given."""
    token = token or new_bot_token()
    bundle = common.fixture(ctx, FIXTURE)
    cli = common.gtc(ctx)
    published = common.publish_pullable(ctx, cli, bundle, repository=BUNDLE_ID, sources=SOURCES)
    ctx.step(f"prepare: author env `{ENV_ID}` with gtc op (bundle, Telegram endpoint, bot token)")
    common.create_env(ctx, cli, ENV_ID)
    cli.op(
        "env-packs",
        "add",
        f"environment_id={ENV_ID}",
        "slot=secrets",
        f"kind={DEV_STORE_KIND}",
        "pack_ref=builtin",
    )
    common.add_routed_bundle(
        ctx,
        cli,
        env_id=ENV_ID,
        bundle_id=BUNDLE_ID,
        bundle_path=bundle,
        source_uri=published.source_uri,
    )
    webhook_secret = add_telegram_endpoint(ctx, cli)
    with_token = dataclasses.replace(cli, env={**cli.env, TOKEN_ENV: token})
    with_token.op("secrets", "put", TOKEN_PATH, "--env", ENV_ID, "--from-env", TOKEN_ENV)

    registry = edges.EdgeRegistry(ctx.work_dir / "edges")
    env = {**published.worker_env, **registry.env(), READY_TIMEOUT_ENV: "0"}
    if cloudflared is not None:  # the real internet: the real Bot API, a real reachability probe
        env.pop(READY_TIMEOUT_ENV)
        return Setup(token, webhook_secret, cloudflared, REAL_API_BASE, env, registry, None)
    ctx.step("prepare: start the fake Telegram Bot API and install the fake cloudflared")
    api = ctx.stack.enter_context(
        bot_api.FakeBotApi(
            tokens={BOT: token},
            logs_dir=ctx.artifacts.dir,
            edge_dir=registry.directory,
            run_id=ctx.run_id,
        )
    )
    ctx.stack.callback(lambda: record_calls(ctx, api))
    binary = edges.install_cloudflared(ctx.work_dir / "bin")
    return Setup(token, webhook_secret, binary, api.api_base, env, registry, api)


def boot(ctx: ScenarioContext, setup: Setup, *, env: dict[str, str] | None = None) -> RunningWorker:
    """`greentic-start start --env local --cloudflared on --cloudflared-binary <bin>` against
    the setup's Bot API (`env` adds or overrides variables, e.g. the fake's failure knobs)."""
    ctx.step(f"act: greentic-start start --env {ENV_ID} --cloudflared on --cloudflared-binary …")
    # extra `start` flags: only a LOCAL_PROCESS track takes them (a pod would get
    # `--cloudflared on` from the deployer's `tunnel` answer instead)
    return ctx.backend.start(
        ctx,
        ENV_ID,
        env={**setup.worker_env, API_BASE_ENV: setup.api_base, **(env or {})},
        args=("--cloudflared", "on", "--cloudflared-binary", str(setup.cloudflared)),
    )


def run(ctx: ScenarioContext) -> ScenarioResult:
    setup = prepare(ctx)
    api, registry = setup.api, setup.registry
    assert api is not None  # prepare(ctx) without real parts starts the fake
    worker = boot(ctx, setup)

    # -- check: tunnel, registration, loopback trust, a Telegram round trip, stop, secrets -
    common.expect_banner(ctx, worker, BANNER, DEADLINE_S)
    public_url = match_line(ctx, worker, PUBLIC_URL, "public URL found and printed")
    admin_url = match_line(ctx, worker, ADMIN, "admin listener on loopback printed")
    edge = check_tunnel(ctx, registry, worker, public_url)
    check_registration(ctx, api, worker, public_url, setup.webhook_secret)
    check_loopback_trust(ctx, worker, edge, admin_url)
    check_round_trip(ctx, api)
    check_stop(ctx, api, worker, registry)
    check_fake_saw_only_bot_api(ctx, api)
    check_no_secret_leaked(ctx, {"bot token": setup.token, "webhook secret": setup.webhook_secret})

    ctx.urls.update({"public": public_url, "admin chat": f"{admin_url}/chat"})
    ctx.notes.append(f"tunnel {public_url} → edge 127.0.0.1:{edge.port} → {worker.base_url}")
    return ctx.result()


# -- prepare ------------------------------------------------------------------------------
def add_telegram_endpoint(ctx: ScenarioContext, cli: Gtc) -> str:
    """`op messaging endpoint add` (mints the webhook secret) and `link-bundle`; the secret,
    read back from the authored dev-store to compare with what the worker registers."""
    added = cli.op(
        "messaging",
        "endpoint",
        "add",
        f"environment_id={ENV_ID}",
        f"name={ENDPOINT}",
        f"provider_type={PROVIDER_TYPE}",
    )
    ref = common.field(added, "webhook_secret_ref")
    cli.op(
        "messaging",
        "endpoint",
        "link-bundle",
        f"environment_id={ENV_ID}",
        f"name={ENDPOINT}",
        f"bundle_id={BUNDLE_ID}",
    )
    store = DevStore(ctx.store_root / ENV_ID / ".greentic" / "dev" / ".dev.secrets.env")
    secret = store.get(ref.replace("secret://", "secrets://", 1))
    ctx.check(
        f"Telegram endpoint `{ENDPOINT}` linked to {BUNDLE_ID}, webhook secret minted",
        bool(secret),
        f"secret at {ref}" if secret else f"no value at {ref} in the authored dev-store",
    )
    return str(secret)


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


def check_tunnel(
    ctx: ScenarioContext, registry: edges.EdgeRegistry, worker: RunningWorker, url: str
) -> edges.Edge:
    """The URL is the fake's, and the worker ran it exactly as upstream does."""
    try:
        edge = registry.wait(url, watch=worker)
    except HarnessError as exc:
        ctx.fail("the public URL is the fake tunnel's", str(exc))
    port = worker.base_url.rsplit(":", 1)[1]
    expected = ("tunnel", "--url", f"http://127.0.0.1:{port}", "--no-autoupdate")
    ctx.check(
        f"cloudflared spawned as `{' '.join(expected)}`",
        edge.argv == expected,
        f"argv {list(edge.argv)}",
    )
    return edge


def check_registration(
    ctx: ScenarioContext,
    api: bot_api.FakeBotApi,
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


def check_loopback_trust(
    ctx: ScenarioContext, worker: RunningWorker, edge: edges.Edge, admin_url: str
) -> None:
    """The tunneled main port serves no console, directly or through the tunnel (even with a
    loopback Host); the loopback admin listener does."""
    body = {"text": "hi"}
    main, invoke = worker.base_url, "/workers/invoke"
    seen = {
        "main GET /chat": status_of("GET", f"{main}/chat"),
        "main POST /workers/invoke": status_of("POST", f"{main}{invoke}", json=body),
        "tunnel GET /chat": edge.request("GET", "/chat").status_code,
        "tunnel POST /workers/invoke": edge.request("POST", invoke, json=body).status_code,
        "tunnel POST /workers/invoke (Host 127.0.0.1)": edge.request(
            "POST", invoke, host="127.0.0.1", json=body
        ).status_code,
        "admin GET /chat": status_of("GET", f"{admin_url}/chat"),
    }
    want = {k: 405 if k.endswith("/chat") else 403 for k in seen}
    want["admin GET /chat"] = 200
    ctx.artifacts.write_json("evidence/loopback-trust.json", seen)
    for name, code in seen.items():
        ctx.check(f"{name} → {want[name]}", code == want[name], f"HTTP {code}")


def check_round_trip(ctx: ScenarioContext, api: bot_api.FakeBotApi) -> None:
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


def check_stop(
    ctx: ScenarioContext,
    api: bot_api.FakeBotApi,
    worker: RunningWorker,
    registry: edges.EdgeRegistry,
) -> None:
    """`greentic-start stop` stops the worker and its tunnel and deletes the webhook."""
    code = stop_worker(ctx, worker)
    deletes = api.calls("deleteWebhook")
    hook = api.webhook(BOT)
    ok = (
        code == 0 and len(deletes) == 1 and deletes[0].ok and deletes[0].bot == BOT and hook is None
    )
    ctx.check(
        "stop: worker exited 0, deleteWebhook called with the bot's token",
        ok,
        f"exit {code}, {len(deletes)} deleteWebhook, webhook "
        + ("cleared" if hook is None else "still set"),
    )
    gone = waits.Poll(
        what="the fake tunnel to close",
        attempt=lambda: not registry.edges() or None,
        timing=waits.Timing(timeout=DEADLINE_S),
    )
    try:
        gone.run()
    except HarnessError as exc:
        ctx.fail("the tunnel stopped with the worker", str(exc))
    ctx.check("the tunnel stopped with the worker", True, "no edge left")


def stop_worker(ctx: ScenarioContext, worker: RunningWorker) -> int:
    """`greentic-start stop --env local` on the worker's own store; the worker's exit code."""
    env_dir = getattr(worker, "env_dir", None)
    if not isinstance(env_dir, Path):
        raise HarnessError("the tunnel scenario needs a local worker (its env dir) to stop it")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(env_dir.parents[2])}
    done = subprocess.run(
        [greentic_start_binary(), "stop", "--env", ENV_ID, "--store-root", str(env_dir.parent)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    ctx.artifacts.write_text("greentic-start-stop.txt", done.stdout + done.stderr)
    said = "; ".join(line.strip() for line in done.stdout.splitlines() if line.strip())
    ctx.check("greentic-start stop", done.returncode == 0, said[-300:] or done.stderr[-300:])
    try:
        return worker.wait_exited(DEADLINE_S)
    except HarnessError as exc:
        ctx.fail("the worker exits after stop", str(exc))


def record_calls(ctx: ScenarioContext, api: bot_api.FakeBotApi) -> None:
    """At teardown, pass or fail: every Bot API call the fake answered (secrets masked)."""
    try:
        calls = [c.redacted() for c in api.calls()]
    except HarnessError as exc:
        calls = [{"error": str(exc)}]
    ctx.artifacts.write_json("telegram-calls.json", calls)


def check_fake_saw_only_bot_api(ctx: ScenarioContext, api: bot_api.FakeBotApi) -> None:
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
