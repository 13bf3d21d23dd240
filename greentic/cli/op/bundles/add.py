"""`op bundles add bundle_id=… [route_binding…] [customer_id=…]`: a new deployment."""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import payload_of, route_options, schema, split_args


@click.command("add")
@click.argument("args", nargs=-1)
@click.option("--env", "environment_id", default=None, help="Environment (default local).")
@click.option("--customer-id", default=None)
@route_options
@click.option("--idempotency-key", default=None)
@click.pass_obj
def command(obj: OpContext, /, args: tuple[str, ...], **flags: Any) -> dict[str, Any]:
    """Register a deployment of <bundle_id>; returns its deployment_id."""
    from greentic.deployer import bundles

    if obj.schema:
        return schema(bundles.BundleAddPayload)
    positional, inline = split_args(args)
    if len(positional) > 1:
        raise click.UsageError("bundles add takes one bundle id")
    flags["bundle_id"] = positional[0] if positional else None
    return bundles.add(obj.store(), payload_of(obj, bundles.BundleAddPayload, inline, flags))
