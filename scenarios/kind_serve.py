"""A rendered worker pod boots `start --env local`, gets Ready and serves /healthz.

SPEC §9 kind-serve on a pod track. Variant `probes`: the env has no bundle, so only the
router pod renders (12 objects) and prints the probes-only banner. Variant `bundle`: a
perf-smoke revision is routed and pulled from the in-network httpd (14 objects); its worker
pod prints the real-revision banner. Both: the pod turns Ready and /healthz answers 200.
"""

from __future__ import annotations

from harness.context import ScenarioContext, ScenarioResult
from harness.tracks import Capability
from scenarios import _common as common
from scenarios import _pods as pods

NEEDS = (Capability.RECONCILE, Capability.READINESS)
VARIANTS = ("probes", "bundle")

ENV_ID = "local"
BUNDLE_ID = "perf-smoke"
FIXTURE = "perf-smoke.gtbundle"
BANNERS = {
    "probes": r"no bundles attached to env `local` — serving probes only",
    "bundle": r"serving 1 revision\(s\) for env `local`",
}
EXPECT_OBJECTS = {"probes": 12, "bundle": 14}
EXPECT_STATUS = {
    "probes": {"env_id": ENV_ID, "revisions_active": 0, "deployments_routed": 0},
    "bundle": {"env_id": ENV_ID, "bundles_active": 1, "revisions_active": 1},
}
DEADLINE_S = 60.0


def run(ctx: ScenarioContext) -> ScenarioResult:
    variant = ctx.variant or "probes"
    backend = pods.pod_backend(ctx)
    cli = common.gtc(ctx)

    # -- prepare: an env bound to the k8s deployer; with a bundle, one served in-network ----
    ctx.step(f"prepare: author env `{ENV_ID}` with gtc op")
    common.create_env(ctx, cli, ENV_ID)
    if variant == "bundle":
        ctx.step("prepare: serve the perf-smoke bundle from the in-network httpd")
        distributor = backend.serve_bundles(ctx, ctx.work_dir / "distributor")
        distributor.publish(common.fixture(ctx, FIXTURE))
        common.add_routed_bundle(
            ctx,
            cli,
            env_id=ENV_ID,
            bundle_id=BUNDLE_ID,
            bundle_path=common.fixture(ctx, FIXTURE),
            source_uri=backend.bundle_uri_for(distributor, FIXTURE),
        )

    # -- act: render → apply, then the serving pod (router without a bundle) ---------------
    ctx.step("act: render the env and run its pods")
    pods.reconcile(ctx, backend, ENV_ID, applied=EXPECT_OBJECTS[variant], pruned=0)
    worker = backend.start(ctx, ENV_ID)

    # -- check: banner, Ready, /healthz, /status ---------------------------------------------
    common.expect_banner(ctx, worker, BANNERS[variant], DEADLINE_S)
    pods.expect_ready(ctx, worker)
    pods.expect_healthz(ctx, worker, DEADLINE_S)
    common.expect_status(ctx, worker, EXPECT_STATUS[variant])
    ctx.urls.update(
        {"healthz": f"{worker.base_url}/healthz", "status": f"{worker.base_url}/status"}
    )
    return ctx.result()
