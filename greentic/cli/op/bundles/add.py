"""`op bundles add bundle_id=… [route_binding…] [customer_id=…]`: a new deployment."""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import payload_of, route_flags, schema, split_args


@click.command("add")
@click.argument("args", nargs=-1)
@click.option("--env", "environment_id", default=None, help="Environment (default local).")
@click.option("--customer-id", default=None)
@click.option("--path-prefix", "path_prefixes", multiple=True, help="Route path prefix.")
@click.option("--host", "hosts", multiple=True, help="Route host.")
@click.option("--tenant", default=None)
@click.option("--team", default=None)
@click.option("--idempotency-key", default=None)
@click.pass_obj
def command(
    obj: OpContext,
    /,
    args: tuple[str, ...],
    path_prefixes: tuple[str, ...],
    hosts: tuple[str, ...],
    tenant: str | None,
    team: str | None,
    **flags: Any,
) -> dict[str, Any]:
    """Register a deployment of <bundle_id>; returns its deployment_id."""
    from greentic.deployer import bundles

    if obj.schema:
        return schema(bundles.BundleAddPayload)
    positional, inline = split_args(args)
    if len(positional) > 1:
        raise click.UsageError("bundles add takes one bundle id")
    flags["bundle_id"] = positional[0] if positional else None
    flags["route_binding"] = route_flags(path_prefixes, hosts, tenant, team)
    return bundles.add(obj.store(), payload_of(obj, bundles.BundleAddPayload, inline, flags))
