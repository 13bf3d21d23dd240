"""`op messaging endpoint add name=… provider_type=…`: a new endpoint."""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import keyword_payload, schema


@click.command("add")
@click.argument("args", nargs=-1)
@click.option("--env", "environment_id", default=None, help="Environment (default local).")
@click.option("--name", default=None, help="Endpoint name (display name and provider id).")
@click.option("--provider-type", default=None, help="e.g. messaging.telegram.bot")
@click.option("--provider-id", default=None)
@click.option("--display-name", default=None)
@click.option("--secret-ref", "secret_refs", multiple=True, help="secret:// uri (repeatable).")
@click.option("--webhook-secret-ref", default=None)
@click.option("--idempotency-key", default=None)
@click.pass_obj
def command(obj: OpContext, /, args: tuple[str, ...], **flags: Any) -> dict[str, Any]:
    """Add a messaging endpoint; Telegram endpoints get a minted webhook secret."""
    from greentic.deployer import messaging

    if obj.schema:
        return schema(messaging.EndpointAddPayload)
    p = keyword_payload(obj, "messaging endpoint add", messaging.EndpointAddPayload, args, flags)
    return messaging.add(obj.store(), p)
