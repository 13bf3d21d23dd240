"""The `op` group: global flags, lazy nouns, and the one invoke wrapper that writes envelopes.

`gtc op [--store-root DIR] [--answers FILE] [--schema] [--debug] <noun> <verb> …`. Verbs
return a result dict; `OpGroup.invoke` prints the success line or turns any failure —
GreenticError, click usage error, or an unexpected exception — into one JSON error line and
exit 1 (SPEC §4). `NounGroup` records the noun/verb labels the envelope carries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from greentic.cli.lazy import Lazy, LazyGroup
from greentic.cli.op.context import OpContext
from greentic.cli.op.envelope import Labels, guard, succeed

LABELS = "greentic.op.labels"

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


def labels_of(ctx: click.Context) -> Labels:
    """The shared Labels of this invocation (click shares `meta` along the context chain)."""
    labels = ctx.meta.get(LABELS)
    if not isinstance(labels, Labels):
        labels = Labels()
        ctx.meta[LABELS] = labels
    return labels


def _debug(ctx: click.Context) -> bool:
    obj = ctx.find_object(OpContext)
    return bool(obj.debug) if obj is not None else bool(ctx.params.get("debug"))


class OpGroup(LazyGroup):
    """The `op` group: every outcome below it ends in exactly one envelope line."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.Exit:
            raise
        except Exception as exc:  # a bad global flag: still one JSON line
            guard(Labels(), exc, debug="--debug" in args)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        labels = labels_of(ctx)
        if args:
            labels.noun = args[0]
        name, cmd, rest = super().resolve_command(ctx, args)
        if name in LEAF_LABELS:
            labels.noun, labels.op = LEAF_LABELS[name]
        return name, cmd, rest

    def invoke(self, ctx: click.Context) -> Any:
        labels = labels_of(ctx)
        try:
            result = super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            guard(labels, exc, debug=_debug(ctx))
        succeed(labels, result)
        return result


class NounGroup(LazyGroup):
    """A noun (`env`, `revisions`, …): records its envelope label and the verb's name."""

    def __init__(self, *args: Any, label: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label = label

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        labels = labels_of(ctx)
        labels.noun = self.label or self.name or ""
        if args:
            labels.op = args[0]
        return super().resolve_command(ctx, args)


@click.group(
    cls=OpGroup,
    lazy=NOUNS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--store-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Store root (default $GREENTIC_STORE_ROOT, else ~/.greentic/environments).",
)
@click.option(
    "--answers",
    type=click.Path(dir_okay=False, path_type=Path),
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
    ctx.obj = OpContext(store_root=store_root, answers=answers, schema=schema, debug=debug)
