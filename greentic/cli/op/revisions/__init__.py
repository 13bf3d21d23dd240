"""`op revisions …`: stage, warm and archive revisions."""

from __future__ import annotations

import click

from greentic.cli.lazy import Lazy
from greentic.cli.op import NounGroup

P = "greentic.cli.op.revisions"
VERBS = {
    "stage": Lazy(f"{P}.stage:command", "Pin a bundle's digest and stage a revision."),
    "warm": Lazy(f"{P}.warm:command", "staged → ready."),
    "archive": Lazy(f"{P}.archive:command", "→ archived (refused while routed)."),
}


@click.group("revisions", cls=NounGroup, lazy=VERBS, label="revisions")
def revisions() -> None:
    """Revisions of a deployment."""
