"""`op trust-root bootstrap [<env>]`: create/load the operator key and trust it in the env."""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import payload_of, schema, split_args


@click.command("bootstrap")
@click.argument("args", nargs=-1)
@click.pass_obj
def command(obj: OpContext, args: tuple[str, ...]) -> dict[str, Any]:
    """Add the operator key (created on first use) to <env>'s trust-root.json."""
    from greentic.deployer import trust_root

    model = trust_root.TrustRootBootstrapPayload
    if obj.schema:
        return schema(model)
    positional, inline = split_args(args)
    if len(positional) > 1:
        raise click.UsageError("trust-root bootstrap takes one env id")
    flags = {"environment_id": positional[0] if positional else None}
    return trust_root.bootstrap(obj.store(), payload_of(obj, model, inline, flags))
