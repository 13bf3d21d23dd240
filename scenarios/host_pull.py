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
from scenarios import _pull as pull

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

DEADLINE_S = 20.0


def run(ctx: ScenarioContext) -> ScenarioResult:
    # -- prepare: publish the bundle, author the store as an operator would ----------------
    published, authored = pull.publish_and_author(
        ctx, SOURCES, f"prepare: author env `{pull.ENV_ID}` with gtc op (env create … traffic set)"
    )

    # -- act: boot `greentic-start start --env local` from environment.json alone ---------
    ctx.step("act: boot the worker from environment.json alone (no runtime-config, no packs)")
    worker = ctx.backend.start(ctx, pull.ENV_ID, env=published.worker_env)

    # -- check: banner, /status, a real reply, and the bytes really came from the source --
    common.expect_banner(ctx, worker, pull.BANNER, DEADLINE_S)
    pull.expect_serving_pulled(ctx, worker, published)

    ctx.urls.update(
        {
            "worker": worker.base_url,
            "status": f"{worker.base_url}/status",
            "healthz": f"{worker.base_url}/healthz",
            "chat": f"{worker.base_url}/chat",
        }
    )
    ctx.notes.append(f"revision {authored.revision_id} pulled from {published.source_uri}")
    return ctx.result()
