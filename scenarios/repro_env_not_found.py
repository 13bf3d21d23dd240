"""Project row: `env apply` of a named environment nobody created is refused as not found.

Symptom: `gtc op env apply` of a manifest for `staging` exits 1 with upstream's exact
not-found message (`env apply … does not create one`). Cause: only `local` is bootstrapped by
apply; `gtc op env list` shows no `staging` in the store. Fix: `gtc op env create staging`,
as the message says. Recovered: the same apply, same manifest, succeeds for `staging`. Only
the `gtc` CLI and the authoring store are involved, so it runs on every track alike.
"""

from __future__ import annotations

from typing import Any

from harness.context import ScenarioContext, ScenarioResult
from harness.op import Gtc, OpFailed, parse_error
from harness.tracks import Capability
from scenarios import _common as common
from scenarios import _repro as repro

NEEDS: tuple[Capability, ...] = ()

ROW = repro.Row(
    name="env-not-found",
    symptom="``environment `E` not found — `env apply` reconciles an existing named "
    "environment but does not create one``",
    cause="only `local` is created by `env apply`; a named env must exist first",
    fix="`gtc op env create E --name E`, then `env apply` again",
)

ENV_ID = "staging"
MANIFEST = {"schema": "greentic.env-manifest.v1", "environment": {"id": ENV_ID}, "secrets": []}
MESSAGE = (
    f"environment `{ENV_ID}` not found — `env apply` reconciles an existing named environment "
    f"but does not create one. Run `op env create {ENV_ID}` first, then re-run apply (or use "
    "`local`, which apply bootstraps)."
)


def run(ctx: ScenarioContext) -> ScenarioResult:
    cli = common.gtc(ctx)
    manifest = common.answers(ctx, f"manifest-{ENV_ID}", MANIFEST)

    repro.symptom(ctx, f"`gtc op env apply` for `{ENV_ID}` is refused")
    try:
        cli.op("env", "apply", "--yes", answers=manifest)
        refused: OpFailed | None = None
    except OpFailed as exc:
        refused = exc
    message = parse_error(refused.stderr)[1] if refused else "it applied"
    ctx.check(
        "exact not-found message",
        refused is not None and refused.kind == "not-found" and message == MESSAGE,
        f"({refused.kind if refused else None}) {message}",
        evidence={"apply-refused.stderr.txt": refused.stderr if refused else ""},
    )

    repro.cause(ctx, f"the store has no `{ENV_ID}`; apply creates only `local`")
    listed = [e.get("environment_id", e.get("id")) for e in environments(cli)]
    ctx.check(
        f"`gtc op env list` has no `{ENV_ID}`",
        ENV_ID not in listed,
        f"environments: {listed or 'none'}",
    )

    def create() -> None:
        cli.op("env", "create", ENV_ID, "--name", ENV_ID)

    repro.fix(ctx, f"gtc op env create {ENV_ID} --name {ENV_ID}", create)

    repro.recovered(ctx, "the same apply succeeds")

    def apply() -> str:
        result = cli.op("env", "apply", "--yes", answers=manifest)
        if common.field(result, "environment_id") != ENV_ID or result.get("missing"):
            raise OpFailed(f"apply answered {result}")
        return f"applied: {result.get('changed')} change(s), {result.get('no_op')} no-op"

    repro.probe(ctx, f"`gtc op env apply` for `{ENV_ID}` succeeds", apply)
    return ctx.result()


def environments(cli: Gtc) -> list[dict[str, Any]]:
    listed = cli.op("env", "list").get("environments", [])
    return [e if isinstance(e, dict) else {"id": e} for e in listed]
