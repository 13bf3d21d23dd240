"""Row 8: a rotated secret does not take effect until the worker pod is replaced.

seeds/000's env (manifest pair applied with the bot token inline, reconciled, the worker
behind the fake tunnel) runs with token A. The operator rotates the bot token with `gtc op
secrets put` (token B). Symptom: the worker still answers Telegram with token A (the fake Bot
API records which token each call used, by label). Cause: the init container
`stage-dev-secrets` copied the dev-store into the pod's own store once, at pod start: the
pod's copy hashes to the old store, while what the next reconcile applies (`gtc op env
render`) carries the new `greentic.ai/dev-store-hash`. Fix: re-reconcile — the annotation
changes and the worker pod rolls. Recovered: the new pod staged the new store, registers its
webhook and replies with token B.
"""

from __future__ import annotations

import dataclasses
import json

from harness import waits
from harness.context import ScenarioContext, ScenarioResult
from harness.errors import HarnessError
from harness.fakenet import FakeInternet
from harness.fakes import bot_api
from harness.tracks import INSECURE_ENV, Capability, PodWorker
from scenarios import _common as common
from scenarios import _pods as pods
from scenarios import _repro as repro
from scenarios import _repro_pods as rp
from scenarios import _tunnel as tun
from scenarios import _tunnel_pods as tp

NEEDS: tuple[Capability, ...] = (
    Capability.RECONCILE,
    Capability.READINESS,
    Capability.FAKE_INTERNET,
)

ROW = repro.Row(
    name="secret-not-applied",
    symptom="a secret change did not take effect",
    cause="the init container copies the dev-store once, at pod start",
    fix="re-reconcile: the `greentic.ai/dev-store-hash` annotation changes and rolls the worker",
)

OLD, NEW = "token-a", "token-b"  # the fake records each call with the token's label
TAG = "v1"
REGISTER_DEADLINE_S = 30.0  # the worker's setWebhook back-off after an unrouted first try


def run(ctx: ScenarioContext) -> ScenarioResult:
    backend = pods.pod_backend(ctx)
    tokens = {OLD: tun.new_bot_token(), NEW: tun.new_bot_token()}
    cli = common.gtc(ctx)

    ctx.step("prepare: fake internet (Bot API knowing tokens A and B), bundle in the registry")
    internet = tp.fake_internet(ctx).fake_internet(ctx, tokens=tokens)
    ctx.stack.callback(lambda: tun.record_calls(ctx, internet.api))
    registry = backend.registry(ctx)
    bundle = common.fixture(ctx, tun.FIXTURE)
    cli.run("bundle", "push", str(bundle), registry.ref(f"{tun.BUNDLE_ID}:{TAG}"), "--insecure")
    authority = backend.authority_for(registry)
    pair = ctx.work_dir / "declarative"
    pair.mkdir()
    answers = internet.deployer_answers([authority])
    (pair / "deployer-answers.json").write_text(json.dumps(answers, indent=2) + "\n")
    source_uri = backend.bundle_uri_for(registry, f"{tun.BUNDLE_ID}:{TAG}")
    manifest = tp.manifest(source_uri, common.sha256_of(bundle))
    (pair / "k8s.env.json").write_text(json.dumps(manifest, indent=2) + "\n")
    ctx.step(f"prepare: {tun.TOKEN_ENV}=<token A> gtc op env apply; reconcile; worker Ready")
    with_a = dataclasses.replace(cli, env={**cli.env, tun.TOKEN_ENV: tokens[OLD]})
    with_a.op("env", "apply", "--yes", answers=pair / "k8s.env.json")
    worker = pods.pod_worker(ctx, backend.start(ctx, tun.ENV_ID, env={INSECURE_ENV: authority}))
    revision_id = routed_revision(ctx)
    expect_behind_tunnel(ctx, internet, worker, OLD)
    expect_reply(ctx, internet.api, 1, OLD, replies=1)

    repro.symptom(ctx, "the bot token was rotated with `gtc op secrets put`; the worker kept A")
    rp.put_secret(cli, tun.TOKEN_PATH, tun.TOKEN_ENV, tokens[NEW])
    ctx.check(
        "`gtc op secrets put` sealed token B in the operator's dev-store",
        tun.authored_secret(ctx, f"secret://{tun.ENV_ID}/{tun.TOKEN_PATH}") == tokens[NEW],
        tun.TOKEN_PATH,
    )
    expect_reply(ctx, internet.api, 2, OLD, replies=2)
    used_new = [c.method for c in internet.api.calls() if c.bot == NEW]
    ctx.check("no Bot API call used token B", not used_new, f"calls with B: {used_new or 'none'}")

    repro.cause(ctx, ROW.cause)
    staged, authored = rp.staged_hash(worker), rp.authored_hash(ctx)
    ctx.check(
        "the pod's staged dev-store is the old one",
        staged != authored,
        f"pod copy {staged[:12]}…, operator's dev-store {authored[:12]}…",
    )
    rendered = rp.rendered_hash(ctx, cli, revision_id, "after-put")
    ctx.check(
        "`gtc op env render`: the worker's greentic.ai/dev-store-hash is the new store's",
        rendered == authored != staged,
        f"rendered {rendered[:12]}…; the running pod staged {staged[:12]}…",
    )

    repro.fix(
        ctx,
        "re-reconcile (`gtc op env reconcile local`): the annotation changes, the worker rolls",
        lambda: rp.reconcile_changed(ctx, backend, revision_id),
    )

    repro.recovered(ctx, "the new worker pod staged token B and uses it")
    rp.wait_staged(ctx, worker, authored, "the worker pod now runs the new dev-store; Ready")
    expect_behind_tunnel(ctx, internet, worker, NEW)
    expect_reply(ctx, internet.api, 3, NEW, replies=3)
    tun.check_no_secret_leaked(ctx, {"bot token A": tokens[OLD], "bot token B": tokens[NEW]})
    ctx.notes.append("token B took effect once the reconcile rolled the worker pod")
    return ctx.result()


def routed_revision(ctx: ScenarioContext) -> str:
    doc = json.loads((ctx.store_root / tun.ENV_ID / "environment.json").read_text())
    entries = [e for s in doc.get("traffic_splits", []) for e in s.get("entries", [])]
    if not entries:
        raise HarnessError("env apply routed no revision")
    return str(entries[0]["revision_id"])


def expect_behind_tunnel(
    ctx: ScenarioContext, internet: FakeInternet, worker: PodWorker, bot: str
) -> None:
    """The pod printed its public URL; once its edge is routed, its webhook is registered
    with `bot`'s token (the worker retries a setWebhook made before the route existed)."""
    common.expect_banner(ctx, worker, tun.BANNER, tun.DEADLINE_S)
    url = tun.match_line(ctx, worker, tun.PUBLIC_URL, "public URL printed in the worker pod's log")

    def registered() -> bot_api.ApiCall | None:
        calls = internet.api.calls("setWebhook")
        return next(
            (c for c in calls if c.ok and c.bot == bot and c.params.get("url", "").startswith(url)),
            None,
        )

    try:
        internet.edge(worker, url, deadline_s=tun.DEADLINE_S)
        call = waits.Poll(
            what=f"setWebhook of {url} with the token labelled {bot}",
            attempt=registered,
            timing=waits.Timing(timeout=REGISTER_DEADLINE_S, interval=0.2),
        ).run()
    except HarnessError as exc:
        ctx.fail(f"webhook registered with the token labelled {bot}", str(exc))
    ctx.check(
        f"webhook registered with the token labelled {bot}",
        True,
        f"setWebhook #{call.seq} as {call.bot}: {call.description}",
    )


def expect_reply(
    ctx: ScenarioContext, api: bot_api.BotApiControl, update_id: int, bot: str, replies: int
) -> None:
    """An Update delivered to `bot`'s webhook is answered by sendMessage made with `bot`'s
    token (the `replies`-th sendMessage)."""
    delivered = api.deliver(tun.update(update_id), bot=bot)
    try:
        sent = api.wait_calls("sendMessage", replies, timeout=tun.DEADLINE_S)[replies - 1]
    except HarnessError as exc:
        ctx.fail(f"reply to Update {update_id}", f"HTTP {delivered.status}; {exc}")
    ctx.check(
        f"Update {update_id} answered by sendMessage with the token labelled {bot}",
        delivered.status == 200 and sent.ok and sent.bot == bot,
        f"webhook HTTP {delivered.status}; sendMessage as {sent.bot}",
    )
