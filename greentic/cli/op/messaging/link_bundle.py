"""`op messaging endpoint link-bundle endpoint_id=…|name=… bundle_id=…`."""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import keyword_payload, schema


@click.command("link-bundle")
@click.argument("args", nargs=-1)
@click.option("--env", "environment_id", default=None, help="Environment (default local).")
@click.option("--endpoint-id", default=None)
@click.option("--name", default=None, help="The endpoint's name (instead of its id).")
@click.option("--bundle-id", default=None)
@click.option("--idempotency-key", default=None)
@click.pass_obj
def command(obj: OpContext, /, args: tuple[str, ...], **flags: Any) -> dict[str, Any]:
    """Allow an endpoint to reach a deployed bundle."""
    from greentic.deployer import messaging

    if obj.schema:
        return schema(messaging.LinkBundlePayload)
    p = keyword_payload(
        obj, "messaging endpoint link-bundle", messaging.LinkBundlePayload, args, flags
    )
    return messaging.link_bundle(obj.store(), p)
