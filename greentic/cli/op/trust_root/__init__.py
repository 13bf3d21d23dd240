"""`op trust-root …`: the env's trusted operator keys."""

from __future__ import annotations

import click

from greentic.cli.lazy import Lazy
from greentic.cli.op import NounGroup

VERBS = {
    "bootstrap": Lazy(
        "greentic.cli.op.trust_root.bootstrap:command", "Trust the operator key in an env."
    ),
}


@click.group("trust-root", cls=NounGroup, lazy=VERBS, label="trust-root")
def trust_root() -> None:
    """The env's trust root."""
