"""Archiving a revision prunes its worker: 14 objects → archive → 12 applied + 2 pruned.

SPEC §9 prune, after upstream's `reconcile_applies_then_prunes_against_a_live_cluster`: an
env with one warmed revision renders 12 env-level objects + its worker Deployment and Service;
after `gtc op revisions archive` the next reconcile applies 12 and prunes 2, the worker's
container is gone and the router survives. The revision never carries traffic: archiving a
routed revision is a `conflict` upstream ("rebalance via `gtc op traffic set` before
archiving"), and a split must still sum to 10000 bps, so moving traffic away means routing a
successor — whose worker would keep the count at 14. An unrouted, warmed revision is the one
way a user reaches 12, and the one upstream's e2e takes.
"""

from __future__ import annotations

from greentic.deployer.k8s import naming
from harness.context import ScenarioContext, ScenarioResult
from harness.op import OpFailed
from harness.tracks import Capability
from scenarios import _common as common
from scenarios import _pods as pods

NEEDS = (Capability.RECONCILE,)

ENV_ID = "local"
BUNDLE_ID = "webchat-bot"
FIXTURE = "webchat-bot.gtbundle"
ROUTER = "gtc-router"
BEFORE = (14, 0)  # 12 env-level objects + the worker's Deployment and Service
AFTER = (12, 2)
DEADLINE_S = 60.0


def run(ctx: ScenarioContext) -> ScenarioResult:
    backend = pods.pod_backend(ctx)
    cli = common.gtc(ctx)

    # -- prepare: one warmed revision (a worker pair), never routed -------------------------
    ctx.step(f"prepare: author env `{ENV_ID}`: one bundle, one warmed revision")
    common.create_env(ctx, cli, ENV_ID)
    deployment_id = common.add_bundle(ctx, cli, ENV_ID, BUNDLE_ID)
    staged = cli.op(
        "revisions",
        "stage",
        f"environment_id={ENV_ID}",
        f"deployment_id={deployment_id}",
        f"bundle_path={common.fixture(ctx, FIXTURE)}",
    )
    revision_id = common.field(staged, "revision_id")
    cli.op("revisions", "warm", f"environment_id={ENV_ID}", f"revision_id={revision_id}")
    worker = naming.worker_name(revision_id)

    # -- act 1: reconcile twice — 14 applied, nothing pruned, worker and router running ----
    ctx.step("act: reconcile (14 objects), twice")
    pods.reconcile(ctx, backend, ENV_ID, applied=BEFORE[0], pruned=BEFORE[1])
    pods.expect_workloads(ctx, backend, ENV_ID, present=[ROUTER, worker], deadline_s=DEADLINE_S)
    pods.reconcile(ctx, backend, ENV_ID, applied=BEFORE[0], pruned=BEFORE[1])

    # -- act 2: archive, reconcile — 12 applied, 2 pruned --------------------------------------
    ctx.step(f"act: gtc op revisions archive {revision_id}; reconcile")
    try:
        archived = cli.op(
            "revisions", "archive", f"environment_id={ENV_ID}", f"revision_id={revision_id}"
        )
    except OpFailed as exc:
        ctx.fail("revision archived", str(exc))
    ctx.check("revision archived", "archived" in str(archived), str(archived)[:200])
    result = pods.reconcile(ctx, backend, ENV_ID, applied=AFTER[0], pruned=AFTER[1])

    # -- check: the worker's objects were pruned, its container is gone, the router survives -
    mine = [o for o in result.get("objects", []) if o["name"] == worker]
    pruned = sorted(f"{o['kind']} {o['name']}" for o in mine if o.get("action") == "pruned")
    still = sorted(f"{o['kind']} {o['name']}" for o in mine if o.get("action") != "pruned")
    ctx.check(
        f"{worker} pruned, no longer rendered",
        not still and pruned == [f"Deployment {worker}", f"Service {worker}"],
        f"pruned: {', '.join(pruned) or 'none'}; still rendered: {', '.join(still) or 'none'}",
    )
    pods.expect_workloads(
        ctx, backend, ENV_ID, present=[ROUTER], absent=[worker], deadline_s=DEADLINE_S
    )
    ctx.notes.append(f"revision {revision_id} archived; its worker pair pruned")
    return ctx.result()
