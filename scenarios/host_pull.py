"""A worker cold-boots from environment.json alone, pulls its bundle, verifies it and serves it.

seeds/001 Track 1 (host-pull) taken one step further (M3): the store is authored with the
real `gtc op` verbs, the pod's store is stripped to environment.json, the worker pulls the
webchat-bot bundle from a loopback distributor (variant `http`) or a local OCI registry
(variant `oci`), prints the real-revision banner, reports 1/1/1 on /status and answers a POST.
"""

from __future__ import annotations

from harness.context import ScenarioContext, ScenarioResult
from harness.distributor import Distributor
from harness.registry import Registry
from scenarios import _common as common

TRACKS = ("host",)
VARIANTS = ("http", "oci")

ENV_ID = "local"
BUNDLE_ID = "webchat-bot"
FIXTURE = "webchat-bot.gtbundle"
OCI_REPOSITORY = "greentic/webchat-bot:v1"
BANNER = r"serving 1 revision\(s\) for env `local`"
EXPECT_STATUS = {
    "schema": "greentic.status.v1",
    "env_id": ENV_ID,
    "bundles_active": 1,
    "deployments_routed": 1,
    "revisions_active": 1,
}
REQUEST = {"text": "hi"}
EXPECT_REPLY = "Hello from webchat-bot! You said: hi"  # fixtures/bundles/src/webchat-bot flow
DEADLINE_S = 20.0


def run(ctx: ScenarioContext) -> ScenarioResult:
    # -- prepare: publish the bundle, author the store as an operator would ----------------
    bundle = common.fixture(ctx, FIXTURE)
    cli = common.gtc(ctx)
    worker_env: dict[str, str] = {}
    distributor: Distributor | None = None
    registry: Registry | None = None
    if ctx.variant == "oci":
        ctx.step("prepare: start a local OCI registry and push the bundle")
        registry = ctx.backend.registry(ctx)
        cli.run("bundle", "push", str(bundle), registry.ref(OCI_REPOSITORY), "--insecure")
        source_uri = ctx.backend.bundle_uri_for(registry, OCI_REPOSITORY)
        worker_env["GREENTIC_OCI_INSECURE_REGISTRIES"] = ctx.backend.authority_for(registry)
    else:
        ctx.step("prepare: serve the bundle from a loopback HTTP distributor")
        distributor = ctx.backend.serve_bundles(ctx, ctx.work_dir / "distributor")
        distributor.publish(bundle)
        source_uri = ctx.backend.bundle_uri_for(distributor, FIXTURE)
    ctx.step(f"prepare: author env `{ENV_ID}` with gtc op (env create … traffic set)")
    common.create_env(ctx, cli, ENV_ID)
    deployment_id = common.add_bundle(ctx, cli, ENV_ID, BUNDLE_ID)
    authored = common.stage_pullable(
        ctx,
        cli,
        env_id=ENV_ID,
        deployment_id=deployment_id,
        bundle_path=bundle,
        source_uri=source_uri,
    )
    common.check_authored(ctx, authored)

    # -- act: boot `greentic-start start --env local` from environment.json alone ---------
    ctx.step("act: boot the worker from environment.json alone (no runtime-config, no packs)")
    worker = ctx.backend.start(ctx, ENV_ID, env=worker_env)

    # -- check: banner, /status, a real reply, and the bytes really came from the source --
    common.expect_banner(ctx, worker, BANNER, DEADLINE_S)
    common.expect_status(ctx, worker, EXPECT_STATUS)
    common.expect_reply(ctx, worker, path="/", body=REQUEST, reply_text=EXPECT_REPLY)
    if distributor is not None:
        hits = distributor.hits(FIXTURE)
        ctx.check(f"pulled from the distributor ({hits} GET)", hits >= 1, source_uri)
    if registry is not None:
        pulls = registry.blob_pulls(OCI_REPOSITORY.split(":")[0])
        ctx.check(f"pulled from the OCI registry ({pulls} blob GET)", pulls >= 1, source_uri)

    ctx.urls.update(
        {
            "worker": worker.base_url,
            "status": f"{worker.base_url}/status",
            "healthz": f"{worker.base_url}/healthz",
            "chat": f"{worker.base_url}/chat",
        }
    )
    ctx.notes.append(f"revision {authored.revision_id} pulled from {source_uri}")
    return ctx.result()
