"""`op env show <id>` (or `--answers {environment_id}`): the environment document and its
runtime-config (read only)."""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import collect, schema, split_args, validate


@click.command("show")
@click.argument("args", nargs=-1)
@click.pass_obj
def command(obj: OpContext, args: tuple[str, ...]) -> dict[str, Any]:
    """Show environment <id> (default `local`)."""
    from greentic.deployer import env
    from greentic.deployer.common import EnvPayload

    if obj.schema:
        return schema(EnvPayload)
    positional, inline = split_args(args)
    if len(positional) > 1:
        raise click.UsageError(f"env show takes one id, got {' '.join(positional)}")
    flags = {"environment_id": env.check_id(positional[0]) if positional else None}
    payload = validate(obj, EnvPayload, collect(obj, inline, flags))
    return env.show(obj.store(), payload.environment_id)
