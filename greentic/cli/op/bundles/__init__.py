"""`op bundles …`: bundle deployments."""

from __future__ import annotations

import click

from greentic.cli.lazy import Lazy
from greentic.cli.op import NounGroup

VERBS = {
    "add": Lazy("greentic.cli.op.bundles.add:command", "Register a deployment of a bundle."),
}


@click.group("bundles", cls=NounGroup, lazy=VERBS, label="bundles")
def bundles() -> None:
    """Bundle deployments (routing targets)."""
