"""`op env create <id> [--name N] …` (or `--answers` / key=value): a new, empty environment."""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import collect, schema, split_args, validate


@click.command("create")
@click.argument("args", nargs=-1)
@click.option("--name", default=None, help="Display name (default: the id).")
@click.option("--region", default=None)
@click.option("--tenant-org", "tenant_org_id", default=None)
@click.option("--listen-addr", default=None, help="ip:port the worker binds.")
@click.option("--public-url", "public_base_url", default=None, help="https origin.")
@click.pass_obj
def command(obj: OpContext, /, args: tuple[str, ...], **flags: Any) -> dict[str, Any]:
    """Create environment <id> (no bindings; bind packs with env-packs add)."""
    from greentic.deployer import env

    if obj.schema:
        return schema(env.EnvCreatePayload)
    positional, inline = split_args(args)
    if len(positional) > 1:
        raise click.UsageError(f"env create takes one id, got {' '.join(positional)}")
    if positional:
        flags["environment_id"] = positional[0]
    data = collect(obj, inline, flags)
    if "environment_id" not in data:
        from greentic.errors import InvalidArgument

        raise InvalidArgument("env create needs an id", hint="gtc op env create <id> --name <name>")
    return env.create(obj.store(), validate(obj, env.EnvCreatePayload, data))
