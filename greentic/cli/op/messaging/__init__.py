"""`op messaging endpoint …`: messaging endpoints (sub-noun `endpoint`)."""

from __future__ import annotations

import click

from greentic.cli.lazy import Lazy
from greentic.cli.op import NounGroup

P = "greentic.cli.op.messaging"
ENDPOINT_VERBS = {
    "add": Lazy(f"{P}.endpoint_add:command", "Add an endpoint (mints a webhook secret)."),
    "link-bundle": Lazy(f"{P}.link_bundle:command", "Let an endpoint reach a bundle."),
}


@click.group("endpoint", cls=NounGroup, lazy=ENDPOINT_VERBS, label="messaging.endpoint")
def endpoint() -> None:
    """Messaging endpoints."""


@click.group("messaging", cls=NounGroup, label="messaging")
def messaging() -> None:
    """Messaging."""


messaging.add_command(endpoint)
