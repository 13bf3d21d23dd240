"""Tampered bytes: the worker refuses to serve them, fails closed, and keeps the earlier revision.

A first boot pulls and serves a good revision (webchat-bot v1). The operator then routes a new
revision (v2) whose distributor serves wrong bytes. The next boot must exit non-zero with the
exact digest refusal on stderr, never answer /healthz, delete runtime-config.json and leave the
earlier revision's files exactly as they were (SPEC §7 step 3).

It runs on every track; what differs is asked as capabilities: with `pod-per-revision` the
new revision's worker is a new pod and the first keeps serving (else the same worker stops
and boots again on its own store); with `restarts` the refusing pod must crash-loop, never
Ready; with `previous-logs` the refusal is also in the crashed container's logs.
"""

from __future__ import annotations

from harness.context import ScenarioContext, ScenarioResult
from harness.tracks import Capability
from scenarios import _common as common
from scenarios import _digest as digest

NEEDS: tuple[Capability, ...] = ()  # every track; the differences are `ctx.can(...)`

ENV_ID = "local"
BUNDLE_ID = "webchat-bot"
GOOD_FIXTURE = "webchat-bot.gtbundle"
NEW_FIXTURE = "webchat-bot-v2.gtbundle"
BANNER = r"serving 1 revision\(s\) for env `local`"
SERVED_STATUS = {"env_id": ENV_ID, "revisions_active": 1}
DEADLINE_S = digest.DEADLINE_S
LOOP_RESTARTS = 2  # restarted with back-off at least twice before it counts as a loop
LOOP_DEADLINE_S = 180.0  # kubelet's back-off (10 s, 20 s, …) reaches CrashLoopBackOff


def run(ctx: ScenarioContext) -> ScenarioResult:
    # -- prepare: a worker that pulled and served a good revision ---------------------------
    good, new = common.fixture(ctx, GOOD_FIXTURE), common.fixture(ctx, NEW_FIXTURE)
    cli = common.gtc(ctx)
    ctx.step("prepare: serve both bundles from a loopback HTTP distributor")
    distributor = ctx.backend.serve_bundles(ctx, ctx.work_dir / "distributor")
    distributor.publish(good)
    distributor.publish(new)
    ctx.step(f"prepare: author env `{ENV_ID}` routing the good revision; boot it once")
    common.create_env(ctx, cli, ENV_ID)
    deployment_id = common.add_bundle(ctx, cli, ENV_ID, BUNDLE_ID)
    earlier = common.stage_pullable(
        ctx,
        cli,
        env_id=ENV_ID,
        deployment_id=deployment_id,
        bundle_path=good,
        source_uri=ctx.backend.bundle_uri_for(distributor, GOOD_FIXTURE),
    )
    first = ctx.backend.start(ctx, ENV_ID)
    common.expect_banner(ctx, first, BANNER, DEADLINE_S)
    common.expect_status(ctx, first, SERVED_STATUS)
    earlier_lock = f"revisions/{earlier.revision_id}/pack-list.lock"
    lock_before = first.env_file(earlier_lock)
    ctx.check("earlier revision materialized", lock_before is not None, earlier_lock)
    assert lock_before is not None
    one_pod_per_revision = ctx.can(Capability.POD_PER_REVISION)
    if one_pod_per_revision:  # the new revision gets its own pod; the first one keeps serving
        ctx.check("first worker pod keeps running", first.exit_code() is None, "not stopped")
    else:  # the same worker boots again on its own store
        code = first.stop()
        ctx.check(f"first worker stopped gracefully (exit {code})", code == 0, "SIGTERM → exit 0")

    ctx.step("prepare: route a new revision, then make the distributor serve wrong bytes")
    tampered = digest.route_tampered(
        ctx, cli, distributor, env_id=ENV_ID, deployment_id=deployment_id, bundle=new
    )
    target = tampered.target

    # -- act: the worker boots with the new environment.json (a new pod, or the same one) ----
    ctx.step("act: boot the new revision's worker; its distributor serves tampered bytes")
    worker = ctx.backend.start(ctx, ENV_ID, expect_exit=True)

    # -- check: fail closed, exact refusal, nothing served, nothing half-written ----------
    digest.expect_fails_closed(ctx, worker, restarts=LOOP_RESTARTS, loop_deadline_s=LOOP_DEADLINE_S)
    digest.expect_refusal(ctx, worker, distributor, tampered)
    common.expect_absent(ctx, worker, "runtime-config.json")
    common.expect_absent(ctx, worker, f"revisions/{target.revision_id}/pack-list.lock")
    # with a pod per revision the earlier revision lives on in the first pod, else in the
    # store the refusing boot shares with it
    keeper = first if one_pod_per_revision else worker
    common.expect_unchanged(ctx, keeper, earlier_lock, lock_before)
    if one_pod_per_revision:  # its pod template did not change: left alone, still serving
        common.expect_status(ctx, first, SERVED_STATUS)
    ctx.notes.append(f"refused revision {target.revision_id}; kept {earlier.revision_id}")
    return ctx.result()
