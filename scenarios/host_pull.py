"""A worker cold-boots from environment.json alone, pulls its bundle, verifies it and serves it.

seeds/001 Track 1 (host-pull) taken one step further (M3): the store is authored with the
real `gtc op` verbs, the pod's store is stripped to environment.json, the worker pulls the
webchat-bot bundle from a loopback distributor (variant `http`) or a local OCI registry
(variant `oci`), prints the real-revision banner, reports 1/1/1 on /status and answers a POST.
"""

from __future__ import annotations

from harness.context import ScenarioContext, ScenarioResult
from harness.tracks import Capability
from scenarios import _common as common

# a local process: demo host-pull leaves it serving by pid (the pod tracks run kind-pull)
NEEDS = (Capability.LOCAL_PROCESS,)
VARIANTS = ("http", "oci")
SOURCES = {
    "http": common.PullSource(
        "prepare: serve the bundle from a loopback HTTP distributor", "distributor"
    ),
    "oci": common.PullSource(
        "prepare: start a local OCI registry and push the bundle", "OCI registry"
    ),
}

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
    published = common.publish_pullable(
        ctx, cli, bundle, repository=OCI_REPOSITORY, sources=SOURCES
    )
    source_uri = published.source_uri
    ctx.step(f"prepare: author env `{ENV_ID}` with gtc op (env create … traffic set)")
    common.create_env(ctx, cli, ENV_ID)
    authored = common.add_routed_bundle(
        ctx, cli, env_id=ENV_ID, bundle_id=BUNDLE_ID, bundle_path=bundle, source_uri=source_uri
    )

    # -- act: boot `greentic-start start --env local` from environment.json alone ---------
    ctx.step("act: boot the worker from environment.json alone (no runtime-config, no packs)")
    worker = ctx.backend.start(ctx, ENV_ID, env=published.worker_env)

    # -- check: banner, /status, a real reply, and the bytes really came from the source --
    common.expect_banner(ctx, worker, BANNER, DEADLINE_S)
    common.expect_status(ctx, worker, EXPECT_STATUS)
    common.expect_reply(ctx, worker, path="/", body=REQUEST, reply_text=EXPECT_REPLY)
    common.expect_pulled(ctx, published)

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
