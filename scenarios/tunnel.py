"""A worker behind a cloudflared quick tunnel registers its Telegram webhook and answers updates.

SPEC §7 (Tunnel) and §9 `tunnel`, seeds/000's Telegram-via-tunnel path with fakes for the
internet: a fake cloudflared (quick-tunnel banner, edge) and a fake Telegram Bot API. It
needs a track that can stand those fakes in front of a worker (`Capability.FAKE_INTERNET`).
On a track whose worker is a local process (the host) this module runs it: the store is
authored with `gtc op` (webchat-bot routed, a Telegram endpoint linked to it, the bot token
sealed in the dev-store); the worker starts with `--cloudflared on`. On a pod track the flow
starts from seeds/000 itself (scenarios/_tunnel_pods.py); both share scenarios/_tunnel.py's
checks. Checks here: the
public URL, one setWebhook with the endpoint's secret, the loopback-trust split (main port and
tunnel: /chat 405, /workers/invoke 403; admin port: /chat 200), an Update with the right secret
answered through sendMessage, a wrong or missing secret 401, deleteWebhook on
`greentic-start stop`, and the bot token in no output, log or artifact.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import waits
from harness.context import ScenarioContext, ScenarioResult
from harness.errors import HarnessError
from harness.fakes import bot_api, edges
from harness.host.track import greentic_start_binary
from harness.op import Gtc
from harness.tracks import Capability, RunningWorker
from scenarios import _common as common
from scenarios import _tunnel_pods as pods
from scenarios._tunnel import (
    ADMIN,
    API_BASE_ENV,
    BANNER,
    BOT,
    BUNDLE_ID,
    CHAT_ID,
    DEADLINE_S,
    DEV_STORE_KIND,
    ENDPOINT,
    ENV_ID,
    EXPECT_REPLY,
    FIXTURE,
    PROVIDER_TYPE,
    PUBLIC_URL,
    READY_TIMEOUT_ENV,
    REAL_API_BASE,
    REGISTERED,
    TOKEN_ENV,
    TOKEN_PATH,
    WEBHOOK_PATH,
    authored_secret,
    check_fake_saw_only_bot_api,
    check_no_secret_leaked,
    check_registration,
    check_round_trip,
    match_line,
    new_bot_token,
    record_calls,
    status_of,
    update,
)

# the fakes in front of the worker: local processes on the host, pods on a pod track
NEEDS = (Capability.FAKE_INTERNET,)
# names the tunnel tests and bench/tunnel.py read from this module
__all__ = [
    "ADMIN",
    "API_BASE_ENV",
    "BOT",
    "BUNDLE_ID",
    "CHAT_ID",
    "DEADLINE_S",
    "ENDPOINT",
    "EXPECT_REPLY",
    "NEEDS",
    "PROVIDER_TYPE",
    "PUBLIC_URL",
    "READY_TIMEOUT_ENV",
    "REAL_API_BASE",
    "REGISTERED",
    "TOKEN_PATH",
    "WEBHOOK_PATH",
    "boot",
    "check_no_secret_leaked",
    "match_line",
    "new_bot_token",
    "prepare",
    "run",
    "stop_worker",
    "update",
]

SOURCES = {
    "http": common.PullSource(
        "prepare: serve the bundle from a loopback HTTP distributor", "distributor"
    )
}


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
    if not ctx.can(Capability.LOCAL_PROCESS):  # a pod track: seeds/000 as pods
        return pods.run(ctx)
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
    secret = authored_secret(ctx, ref)
    ctx.check(
        f"Telegram endpoint `{ENDPOINT}` linked to {BUNDLE_ID}, webhook secret minted",
        bool(secret),
        f"secret at {ref}" if secret else f"no value at {ref} in the authored dev-store",
    )
    return str(secret)


# -- checks -------------------------------------------------------------------------------
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
