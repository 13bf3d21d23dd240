"""A worker pod pulls its bundle across the pod network, verifies it and serves it.

SPEC §9 kind-pull on a pod track, after upstream's e2e: the revision's bundle_source_uri
names an in-network service — the busybox httpd `gtc-bundle-server:8080` (variant `http`) or
the registry `gtc-oci-registry:5000` the host pushed to with `gtc bundle push` (variant
`oci`, plain HTTP allowed through the deployer answer `oci_insecure_registries`). The worker
prints the real-revision banner, reports 1/1/1 on /status and answers a POST.
"""

from __future__ import annotations

from harness.context import ScenarioContext, ScenarioResult
from harness.tracks import Capability
from scenarios import _common as common
from scenarios import _pods as pods

NEEDS = (Capability.RECONCILE, Capability.READINESS)
VARIANTS = ("http", "oci")
SOURCES = {
    "http": common.PullSource(
        "prepare: serve the bundle from the in-network busybox httpd", "in-network httpd"
    ),
    "oci": common.PullSource(
        "prepare: start the in-network OCI registry; push the bundle from the host",
        "in-network registry",
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
EXPECT_REPLY = "Hello from webchat-bot! You said: hi"  # fixtures/bundles/README.md
DEADLINE_S = 60.0


def run(ctx: ScenarioContext) -> ScenarioResult:
    backend = pods.pod_backend(ctx)
    bundle = common.fixture(ctx, FIXTURE)
    cli = common.gtc(ctx)

    # -- prepare: the bundle in an in-network source; the store authored with gtc op -------
    published = common.publish_pullable(
        ctx, cli, bundle, repository=OCI_REPOSITORY, sources=SOURCES
    )
    source_uri = published.source_uri
    ctx.step(f"prepare: author env `{ENV_ID}` (env create … traffic set) pulling {source_uri}")
    common.create_env(ctx, cli, ENV_ID)
    authored = common.add_routed_bundle(
        ctx, cli, env_id=ENV_ID, bundle_id=BUNDLE_ID, bundle_path=bundle, source_uri=source_uri
    )

    # -- act: render → apply; the worker pod cold-boots from environment.json alone ---------
    ctx.step("act: render the env and run its pods; the worker pulls at boot")
    worker = backend.start(ctx, ENV_ID, env=published.worker_env)

    # -- check: banner, /status 1/1/1, a real reply, and the pull went across the network ---
    common.expect_banner(ctx, worker, BANNER, DEADLINE_S)
    pods.expect_ready(ctx, worker)
    common.expect_status(ctx, worker, EXPECT_STATUS)
    common.expect_reply(ctx, worker, path="/", body=REQUEST, reply_text=EXPECT_REPLY)
    common.expect_pulled(ctx, published)
    ctx.urls.update({"worker": worker.base_url, "status": f"{worker.base_url}/status"})
    ctx.notes.append(f"revision {authored.revision_id} pulled from {source_uri}")
    return ctx.result()
