"""`op env init [--public-url U]`: create (or heal) env `local` with its default bindings."""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import collect, schema, split_args, validate


@click.command("init")
@click.argument("args", nargs=-1)
@click.option("--public-url", "public_base_url", default=None, help="https origin.")
@click.pass_obj
def command(obj: OpContext, args: tuple[str, ...], public_base_url: str | None) -> dict[str, Any]:
    """Create env `local` with the default bindings (or add missing ones)."""
    from greentic.deployer import env

    if obj.schema:
        return schema(env.EnvInitPayload)
    positional, inline = split_args(args)
    if positional:
        raise click.UsageError(f"env init takes no positional arguments: {' '.join(positional)}")
    data = collect(obj, inline, {"public_base_url": public_base_url})
    return env.init(obj.store(), validate(obj, env.EnvInitPayload, data))
