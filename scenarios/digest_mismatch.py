"""Tampered bytes: the worker refuses to serve them, fails closed, and keeps the earlier revision.

A first boot pulls and serves a good revision (webchat-bot v1). The operator then routes a new
revision (v2) whose distributor serves wrong bytes. The next boot must exit non-zero with the
exact digest refusal on stderr, never answer /healthz, delete runtime-config.json and leave the
earlier revision's files exactly as they were (SPEC §7 step 3).
"""

from __future__ import annotations

from harness.context import ScenarioContext, ScenarioResult
from harness.errors import HarnessError
from scenarios import _common as common
from scenarios import _pods as pods

TRACKS = ("host", "docker", "kind")

ENV_ID = "local"
BUNDLE_ID = "webchat-bot"
GOOD_FIXTURE = "webchat-bot.gtbundle"
NEW_FIXTURE = "webchat-bot-v2.gtbundle"
BANNER = r"serving 1 revision\(s\) for env `local`"
SERVED_STATUS = {"env_id": ENV_ID, "revisions_active": 1}
REFUSAL = (
    "pulled bundle digest `{pulled}` does not match revision `{revision}`'s pinned "
    "`{pinned}`; refusing to serve unpinned bytes"
)
DEADLINE_S = 20.0
KIND_LOOP_DEADLINE_S = 180.0  # kubelet's back-off reaches CrashLoopBackOff after a few crashes
DOCKER_LOOP_RESTARTS = (
    2  # harness.docker.pods restarts the refusing worker with back-off (1 s, 2 s, …)
)
DOCKER_LOOP_DEADLINE_S = 60.0


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
    if ctx.track == "docker":  # the new revision gets its own pod; the first one keeps serving
        ctx.check("first worker pod keeps running", first.exit_code() is None, "not stopped")
    else:
        code = first.stop()
        ctx.check(f"first worker stopped gracefully (exit {code})", code == 0, "SIGTERM → exit 0")

    ctx.step("prepare: route a new revision, then make the distributor serve wrong bytes")
    target = common.stage_pullable(
        ctx,
        cli,
        env_id=ENV_ID,
        deployment_id=deployment_id,
        bundle_path=new,
        source_uri=ctx.backend.bundle_uri_for(distributor, NEW_FIXTURE),
    )
    common.check_authored(ctx, target)
    distributor.tamper(NEW_FIXTURE)
    served = distributor.served_bytes(NEW_FIXTURE)
    assert served is not None
    refusal = REFUSAL.format(
        pulled=common.sha256_of(served),
        revision=target.revision_id,
        pinned=target.bundle_digest,
    )

    # -- act: the same pod boots again with the new environment.json ----------------------
    ctx.step("act: reboot the worker; its distributor now serves tampered bytes")
    worker = ctx.backend.start(ctx, ENV_ID, expect_exit=True)

    # -- check: fail closed, exact refusal, nothing served, nothing half-written ----------
    common.expect_refused_boot(ctx, worker, DEADLINE_S)
    common.expect_text(ctx, "exact digest refusal on stderr", worker.stderr(), refusal)
    if ctx.track == "kind":  # kubelet restarts the refusing pod with back-off, never Ready
        try:
            reason = worker.wait_crash_loop(KIND_LOOP_DEADLINE_S)  # type: ignore[attr-defined]
        except HarnessError as exc:
            ctx.fail("worker pod in CrashLoopBackOff", str(exc))
        ctx.check(f"worker pod in {reason}", True, "kubectl get pods")
        previous = worker.previous_logs()  # type: ignore[attr-defined]
        common.expect_text(ctx, "exact refusal in kubectl logs --previous", previous, refusal)
    if ctx.track == "docker":  # restarted with back-off, never Ready: a CrashLoopBackOff
        pods.expect_restart_loop(
            ctx, worker, restarts=DOCKER_LOOP_RESTARTS, deadline_s=DOCKER_LOOP_DEADLINE_S
        )
    ctx.check(
        "the tampered bytes were really pulled",
        distributor.hits(NEW_FIXTURE) >= 1,
        f"{distributor.hits(NEW_FIXTURE)} GET of {NEW_FIXTURE}",
    )
    common.expect_no_match(ctx, "no serving banner", worker.stdout(), common.SERVING_BANNER)
    common.expect_absent(ctx, worker, "runtime-config.json")
    common.expect_absent(ctx, worker, f"revisions/{target.revision_id}/pack-list.lock")
    # on kind the refusing worker is a new pod; the earlier revision lives on in the first one
    keeper = first if ctx.track in ("kind", "docker") else worker
    common.expect_unchanged(ctx, keeper, earlier_lock, lock_before)
    if ctx.track in ("docker", "kind"):  # its pod template did not change: left alone
        common.expect_status(ctx, first, SERVED_STATUS)
    ctx.notes.append(f"refused revision {target.revision_id}; kept {earlier.revision_id}")
    return ctx.result()
