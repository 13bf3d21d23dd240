"""Project row: a pull from a plain-HTTP registry fails until the registry is listed as insecure.

The bundle sits in a local OCI registry that speaks plain HTTP (pushed with `gtc bundle push
--insecure`). Symptom: the worker's boot fails closed; its error names
`GREENTIC_OCI_INSECURE_REGISTRIES` and the registry. Cause: registries are HTTPS unless their
exact `host[:port]` is listed — the registry saw no pull (the worker spoke TLS to it). Fix:
list the registry (the worker's env var; the deployer answer `oci_insecure_registries`
renders it on the pod tracks). Recovered: the worker pulls over HTTP and serves.
"""

from __future__ import annotations

from harness.context import ScenarioContext, ScenarioResult
from harness.tracks import INSECURE_ENV, Capability, RunningWorker
from scenarios import _common as common
from scenarios import _repro as repro

NEEDS: tuple[Capability, ...] = ()  # the insecure list reaches a pod as the deployer answer

ROW = repro.Row(
    name="insecure-registry",
    symptom="pull from a plain-HTTP registry fails; the message names "
    "`GREENTIC_OCI_INSECURE_REGISTRIES`",
    cause="registries are HTTPS unless their exact `host[:port]` is listed",
    fix="list it: `GREENTIC_OCI_INSECURE_REGISTRIES=host:port` for `greentic-start`, the "
    "deployer answer `oci_insecure_registries` for pods",
)

ENV_ID = "local"
BUNDLE_ID = "webchat-bot"
FIXTURE = "webchat-bot.gtbundle"
REPOSITORY = "greentic/webchat-bot:v1"
BANNER = r"serving 1 revision\(s\) for env `local`"
SERVED_STATUS = {"env_id": ENV_ID, "revisions_active": 1}
DEADLINE_S = 30.0


def run(ctx: ScenarioContext) -> ScenarioResult:
    bundle = common.fixture(ctx, FIXTURE)
    cli = common.gtc(ctx)
    ctx.step("prepare: a plain-HTTP OCI registry holds the bundle; env `local` routes it")
    registry = ctx.backend.registry(ctx)
    cli.run("bundle", "push", str(bundle), registry.ref(REPOSITORY), "--insecure")
    authority = ctx.backend.authority_for(registry)
    common.create_env(ctx, cli, ENV_ID)
    common.add_routed_bundle(
        ctx,
        cli,
        env_id=ENV_ID,
        bundle_id=BUNDLE_ID,
        bundle_path=bundle,
        source_uri=ctx.backend.bundle_uri_for(registry, REPOSITORY),
    )

    repro.symptom(ctx, f"the worker cannot pull from `{authority}`")
    worker = ctx.backend.start(ctx, ENV_ID, expect_exit=True)
    common.expect_refused_boot(ctx, worker, DEADLINE_S)
    named = f"if `{authority}` is a plain-HTTP registry, list it in {INSECURE_ENV}"
    common.expect_text(ctx, f"the error names {INSECURE_ENV}", worker.stderr(), named)

    repro.cause(ctx, f"`{authority}` speaks plain HTTP and is not listed as insecure")
    pulls = registry.pulls(REPOSITORY)
    ctx.check(
        "the registry served no blob (the worker spoke HTTPS to it)",
        pulls == 0,
        f"{pulls} blob GET(s) of {REPOSITORY}",
    )
    restarted: list[RunningWorker] = []

    def list_it() -> None:
        if not ctx.can(Capability.POD_PER_REVISION):
            worker.stop()  # the same worker boots again (a pod track rolls its pod)
        restarted.append(
            ctx.backend.start(ctx, ENV_ID, env={INSECURE_ENV: authority}, expect_exit=True)
        )

    how = "the deployer answer oci_insecure_registries" if ctx.can(Capability.RECONCILE) else ""
    repro.fix(ctx, f"list it: {INSECURE_ENV}={authority}" + (f" ({how})" if how else ""), list_it)

    repro.recovered(ctx, "the worker pulls over plain HTTP and serves")
    again = restarted[0] if restarted else worker
    common.expect_banner(ctx, again, BANNER, DEADLINE_S * 3)
    common.expect_status(ctx, again, SERVED_STATUS)
    pulled = registry.pulls(REPOSITORY)
    ctx.check(f"pulled from the OCI registry ({pulled} blob GET)", pulled >= 1, REPOSITORY)
    return ctx.result()
