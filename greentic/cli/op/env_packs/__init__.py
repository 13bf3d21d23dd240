"""`op env-packs …`: bind packs to env slots."""

from __future__ import annotations

import click

from greentic.cli.lazy import Lazy
from greentic.cli.op import NounGroup

VERBS = {
    "add": Lazy("greentic.cli.op.env_packs.add:command", "Bind a pack to a slot."),
}


@click.group("env-packs", cls=NounGroup, lazy=VERBS, label="env-packs")
def env_packs() -> None:
    """Env-pack bindings (deployer, secrets, telemetry, sessions, state)."""
