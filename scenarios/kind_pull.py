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
from scenarios import _pull as pull

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

DEADLINE_S = 60.0


def run(ctx: ScenarioContext) -> ScenarioResult:
    backend = pods.pod_backend(ctx)

    # -- prepare: the bundle in an in-network source; the store authored with gtc op -------
    published, authored = pull.publish_and_author(
        ctx,
        SOURCES,
        f"prepare: author env `{pull.ENV_ID}` (env create … traffic set) pulling {{source_uri}}",
    )

    # -- act: render → apply; the worker pod cold-boots from environment.json alone ---------
    ctx.step("act: render the env and run its pods; the worker pulls at boot")
    worker = backend.start(ctx, pull.ENV_ID, env=published.worker_env)

    # -- check: banner, /status 1/1/1, a real reply, and the pull went across the network ---
    common.expect_banner(ctx, worker, pull.BANNER, DEADLINE_S)
    pods.expect_ready(ctx, worker)
    pull.expect_serving_pulled(ctx, worker, published)
    ctx.urls.update({"worker": worker.base_url, "status": f"{worker.base_url}/status"})
    ctx.notes.append(f"revision {authored.revision_id} pulled from {published.source_uri}")
    return ctx.result()
