"""`op traffic …`: traffic splits."""

from __future__ import annotations

import click

from greentic.cli.lazy import Lazy
from greentic.cli.op import NounGroup

VERBS = {
    "set": Lazy("greentic.cli.op.traffic.set:command", "Split a deployment's traffic."),
}


@click.group("traffic", cls=NounGroup, lazy=VERBS, label="traffic")
def traffic() -> None:
    """Traffic splits (weights in basis points; 10000 = 100%)."""
