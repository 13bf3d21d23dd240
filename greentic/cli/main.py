"""The console scripts: `gtc` (op, start, bundle, pack) and `greentic-deployer` (op only).

Both are lazy groups: a subcommand's module (and pydantic, httpx, kubernetes behind it) is
imported only when that subcommand runs. pyproject.toml points the scripts here.
"""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.lazy import Lazy, LazyGroup

OP = Lazy("greentic.cli.op:op", "Author environments in the local store (the `op` verbs).")

GTC_COMMANDS = {
    "op": OP,
    "start": Lazy("greentic.cli.start:start", "Run a worker: start --env <id>."),
    "bundle": Lazy("greentic.cli.bundle:bundle", "Build, inspect and push .gtbundle files."),
    "pack": Lazy("greentic.cli.pack:pack", "Build and sign .gtpack files."),
}


class RootGroup(LazyGroup):
    """The top group: a GreenticError escaping a non-`op` subcommand still gets an envelope."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from greentic.errors import GreenticError

            if not isinstance(exc, GreenticError):
                raise
            from greentic.cli.op.envelope import Labels, guard

            name = ctx.invoked_subcommand or ""
            guard(Labels(noun=name, op=name), exc, debug=False)


@click.group(
    cls=RootGroup, lazy=GTC_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
def gtc() -> None:
    """Greentic: author environments, build bundles, run workers."""


@click.group(
    cls=RootGroup, lazy={"op": OP}, context_settings={"help_option_names": ["-h", "--help"]}
)
def deployer() -> None:
    """The Greentic deployer (`greentic-deployer op …`)."""
