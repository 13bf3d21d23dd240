"""Row 2: the worker never becomes Ready (a restart loop) because its bytes are not the pinned ones.

The operator routed a revision whose source serves bytes other than the ones `gtc op
revisions stage` pinned (here: one byte flipped at the distributor, bit rot or a stale
upload). Symptom: the boot fails closed — exit ≠ 0, /healthz never answers; on a `restarts`
track the pod is restarted with back-off and never Ready (CrashLoopBackOff on kind). Cause:
the exact digest refusal on stderr (and in the crashed container's logs), and the digest of
what the source serves ≠ the revision's pinned `bundle_digest`. Fix, as the operator does it:
publish the verified artifact again and re-stage the revision from it with `gtc op
revisions stage` + `warm` + `traffic set` (the pin is the sha256 of that file). Recovered:
the next boot (host) / the reconciled pod (pod tracks) pulls, verifies and serves.
The steps are digest-mismatch's (scenarios/_digest.py).
"""

from __future__ import annotations

import json

from harness.context import ScenarioContext, ScenarioResult
from harness.tracks import Capability
from scenarios import _common as common
from scenarios import _digest as digest
from scenarios import _repro as repro

NEEDS: tuple[Capability, ...] = ()  # every track; a pod track also shows the restart loop

ROW = repro.Row(
    name="crashloop-digest",
    symptom="worker never Ready / CrashLoopBackOff, no revision served",
    cause="the pulled bundle's digest is not the revision's pinned `bundle_digest`: the worker "
    "fails closed with ``pulled bundle digest `X` does not match revision `R`'s pinned `Y`; "
    "refusing to serve unpinned bytes``",
    fix="publish the verified artifact and re-stage the revision from it "
    "(`gtc op revisions stage … bundle_path=FILE bundle_source_uri=URI`, `warm`, "
    "`traffic set`); `gtc bundle inspect FILE` shows the digest it will pin",
)

ENV_ID = "local"
BUNDLE_ID = "webchat-bot"
FIXTURE = "webchat-bot-v2.gtbundle"
REPUBLISHED = "webchat-bot-v2-verified.gtbundle"  # the artifact uploaded again, verified
BANNER = r"serving 1 revision\(s\) for env `local`"
SERVED_STATUS = {"env_id": ENV_ID, "revisions_active": 1}
LOOP_RESTARTS = 1  # one restart with back-off is the loop the operator sees
LOOP_DEADLINE_S = 60.0
DEADLINE_S = digest.DEADLINE_S
READY_DEADLINE_S = 90.0


def run(ctx: ScenarioContext) -> ScenarioResult:
    bundle = common.fixture(ctx, FIXTURE)
    cli = common.gtc(ctx)
    ctx.step("prepare: serve the bundle; author env `local` routing it; the source rots")
    distributor = ctx.backend.serve_bundles(ctx, ctx.work_dir / "distributor")
    distributor.publish(bundle)
    common.create_env(ctx, cli, ENV_ID)
    deployment_id = common.add_bundle(ctx, cli, ENV_ID, BUNDLE_ID)
    tampered = digest.route_tampered(
        ctx, cli, distributor, env_id=ENV_ID, deployment_id=deployment_id, bundle=bundle
    )

    repro.symptom(ctx, ROW.symptom)
    worker = ctx.backend.start(ctx, ENV_ID, expect_exit=True)
    digest.expect_fails_closed(ctx, worker, restarts=LOOP_RESTARTS, loop_deadline_s=LOOP_DEADLINE_S)

    repro.cause(ctx, "the pulled bytes are not the pinned ones")
    digest.expect_refusal(ctx, worker, distributor, tampered)
    pinned = pinned_digest(ctx, tampered.target.revision_id)
    ctx.check(
        "served digest ≠ pinned bundle_digest",
        pinned != tampered.pulled,
        f"serves {tampered.pulled[:19]}…, environment.json pins {pinned[:19]}…",
    )

    def restage() -> None:
        republished = ctx.work_dir / REPUBLISHED
        republished.write_bytes(bundle.read_bytes())  # the verified artifact, uploaded again
        distributor.publish(republished)
        common.stage_pullable(
            ctx,
            cli,
            env_id=ENV_ID,
            deployment_id=deployment_id,
            bundle_path=republished,
            source_uri=ctx.backend.bundle_uri_for(distributor, REPUBLISHED),
        )

    repro.fix(ctx, "publish the verified artifact and re-stage the revision from it", restage)

    repro.recovered(ctx, "the worker pulls the pinned bytes, is Ready and serves")
    if not ctx.can(Capability.POD_PER_REVISION):
        worker.stop()  # the same worker boots again (a pod track reconciles a new pod)
    again = ctx.backend.start(ctx, ENV_ID, expect_exit=True)
    common.expect_banner(ctx, again, BANNER, READY_DEADLINE_S)
    common.expect_status(ctx, again, SERVED_STATUS)
    ctx.notes.append(f"refused {tampered.target.revision_id}; served after re-staging")
    return ctx.result()


def pinned_digest(ctx: ScenarioContext, revision_id: str) -> str:
    """The revision's `bundle_digest` as the authored environment.json pins it."""
    doc = json.loads((ctx.store_root / ENV_ID / "environment.json").read_text())
    return next(
        str(r.get("bundle_digest"))
        for r in doc.get("revisions", [])
        if r.get("revision_id") == revision_id
    )
