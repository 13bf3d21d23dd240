"""The `op` group: global flags, lazy nouns, and the success envelope of every verb.

`gtc op [--store-root DIR] [--answers FILE] [--schema] [--debug] <noun> <verb> …`. Verbs
return a result dict; `OpGroup.invoke` prints the success line (SPEC §4). Failures are the
error boundary's (greentic.cli.boundary): one JSON error line and exit 1. `NounGroup` records
the noun/verb labels the envelopes carry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from greentic.cli.boundary import DEBUG, Boundary, LabelledGroup, SafePath, labels_of, succeed
from greentic.cli.lazy import Lazy
from greentic.cli.op.context import OpContext

NOUNS = {
    "env": Lazy("greentic.cli.op.env:env", "Environments: create, init, show, list, apply, …"),
    "env-packs": Lazy("greentic.cli.op.env_packs:env_packs", "Bind packs to env slots."),
    "bundles": Lazy("greentic.cli.op.bundles:bundles", "Bundle deployments (routing targets)."),
    "revisions": Lazy("greentic.cli.op.revisions:revisions", "Stage, warm and archive revisions."),
    "traffic": Lazy("greentic.cli.op.traffic:traffic", "Traffic splits between revisions."),
    "secrets": Lazy("greentic.cli.op.secrets:secrets", "Dev-store secrets."),
    "trust-root": Lazy("greentic.cli.op.trust_root:trust_root", "The env's trusted keys."),
    "messaging": Lazy("greentic.cli.op.messaging:messaging", "Messaging endpoints."),
    "deploy": Lazy("greentic.cli.op.deploy:command", "bundles add + stage + warm + 100% traffic."),
}
# Commands that sit at noun position carry upstream's (noun, verb) labels.
LEAF_LABELS = {"deploy": ("deploy", "run")}


class OpGroup(Boundary):
    """The `op` group: a verb's result becomes the one success line on stdout."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, cmd, rest = super().resolve_command(ctx, args)
        if name in LEAF_LABELS:
            labels = labels_of(ctx)
            labels.noun, labels.op = LEAF_LABELS[name]
        return name, cmd, rest

    def invoke(self, ctx: click.Context) -> Any:
        result = super().invoke(ctx)
        succeed(labels_of(ctx), result)
        return result


class NounGroup(LabelledGroup):
    """A noun (`env`, `revisions`, …): its envelope label (default: its name) and the verb."""

    def __init__(self, *args: Any, label: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.noun = label or self.name or ""


@click.group(
    cls=OpGroup,
    lazy=NOUNS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--store-root",
    type=SafePath(file_okay=False, path_type=Path),
    default=None,
    help="Store root (default $GREENTIC_STORE_ROOT, else ~/.greentic/environments).",
)
@click.option(
    "--answers",
    type=SafePath(dir_okay=False, path_type=Path),
    default=None,
    help="The verb's payload as a JSON/YAML file (for `env apply`: the env-manifest).",
)
@click.option("--schema", is_flag=True, help="Print the verb's input JSON schema; touch nothing.")
@click.option("--debug", is_flag=True, help="Let unexpected errors through with a traceback.")
@click.pass_context
def op(
    ctx: click.Context, store_root: Path | None, answers: Path | None, schema: bool, debug: bool
) -> None:
    """Author environments in the local store (one JSON line per verb)."""
    ctx.meta[DEBUG] = debug
    ctx.obj = OpContext(store_root=store_root, answers=answers, schema=schema, debug=debug)
