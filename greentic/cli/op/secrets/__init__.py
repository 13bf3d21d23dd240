"""`op secrets …`: dev-store secrets."""

from __future__ import annotations

import click

from greentic.cli.lazy import Lazy
from greentic.cli.op import NounGroup

VERBS = {
    "put": Lazy("greentic.cli.op.secrets.put:command", "Seal a secret (value from env/stdin)."),
}


@click.group("secrets", cls=NounGroup, lazy=VERBS, label="secrets")
def secrets() -> None:
    """Secrets in the env's dev-store."""
