"""`op env list`: the environment ids under the store root (read only)."""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op.context import OpContext


@click.command("list")
@click.pass_obj
def command(obj: OpContext) -> dict[str, Any]:
    """List environments."""
    from greentic.deployer import env

    if obj.schema:
        return {"type": "object", "properties": {}}
    return env.list_envs(obj.store())
