"""The console scripts: `gtc` (op, start, bundle, pack) and `greentic-deployer` (op only).

Both are lazy error boundaries (greentic.cli.boundary): a subcommand's module (and pydantic,
httpx, kubernetes behind it) is imported only when that subcommand runs, and any failure —
down to a bad top-level flag — is one JSON line on stderr. pyproject.toml points here.
"""

from __future__ import annotations

import click

from greentic.cli.boundary import Boundary
from greentic.cli.lazy import Lazy

OP = Lazy("greentic.cli.op:op", "Author environments in the local store (the `op` verbs).")

GTC_COMMANDS = {
    "op": OP,
    "start": Lazy("greentic.cli.start:start", "Run a worker: start --env <id>."),
    "bundle": Lazy("greentic.cli.bundle:bundle", "Build, inspect and push .gtbundle files."),
    "pack": Lazy("greentic.cli.pack:pack", "Build and sign .gtpack files."),
}
CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.group(cls=Boundary, lazy=GTC_COMMANDS, context_settings=CONTEXT)
def gtc() -> None:
    """Greentic: author environments, build bundles, run workers."""


@click.group(cls=Boundary, lazy={"op": OP}, context_settings=CONTEXT)
def deployer() -> None:
    """The Greentic deployer (`greentic-deployer op …`)."""
