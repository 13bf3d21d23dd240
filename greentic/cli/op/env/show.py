"""`op env show <id>`: the environment document and its runtime-config (read only)."""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op.context import OpContext


@click.command("show")
@click.argument("environment_id", default="local")
@click.pass_obj
def command(obj: OpContext, environment_id: str) -> dict[str, Any]:
    """Show environment <id> (default `local`)."""
    from greentic.deployer import env

    if obj.schema:
        return {"type": "object", "properties": {"environment_id": {"type": "string"}}}
    return env.show(obj.store(), env.check_id(environment_id))
