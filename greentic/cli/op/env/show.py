"""`op env show <id>` (or `--answers {environment_id}`): the environment document and its
runtime-config (read only).

`env show [<id>]` never imports pydantic: the id is checked as a path segment and the store
files are validated by the compiled validators (`greentic.store.reading.show`, the models' own
schemas on pydantic-core, #16). A payload given as `--answers` or `key=value` pairs, and
`--schema`, go through the verb's pydantic model as every other verb's payload does.
"""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op.context import OpContext

LOCAL = "local"  # greentic.deployer.common.LOCAL (that module imports pydantic)


@click.command("show")
@click.argument("args", nargs=-1)
@click.pass_obj
def command(obj: OpContext, args: tuple[str, ...]) -> dict[str, Any]:
    """Show environment <id> (default `local`)."""
    from greentic.store.layout import default_root, valid_env_id
    from greentic.store.reading import show

    if obj.schema:
        from greentic.cli.op.payload import schema
        from greentic.deployer.common import EnvPayload

        return schema(EnvPayload)
    positional = [a for a in args if "=" not in a]  # payload.split_args, without its import
    inline = tuple(a for a in args if "=" in a)
    if len(positional) > 1:
        raise click.UsageError(f"env show takes one id, got {' '.join(positional)}")
    env_id = valid_env_id(positional[0]) if positional else None
    if inline or obj.answers is not None:
        env_id = _payload_env_id(obj, inline, env_id)
    return show(default_root(obj.store_root), env_id or LOCAL)


def _payload_env_id(obj: OpContext, inline: tuple[str, ...], env_id: str | None) -> str:
    """The env id of a `--answers` / `key=value` payload, validated by the verb's model."""
    from greentic.cli.op.payload import collect, validate
    from greentic.deployer.common import EnvPayload

    payload = validate(obj, EnvPayload, collect(obj, inline, {"environment_id": env_id}))
    return payload.environment_id
