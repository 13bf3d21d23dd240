"""`op secrets put <path> --from-env VAR` (or the value on stdin): never from argv.

`--answers` may carry `{path, value}` or `{path, from_env}`; inline `value=…` is refused so a
secret never lands in shell history or a process listing.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import collect, schema, split_args, validate
from greentic.errors import InvalidArgument


def _from_env(var: str) -> str:
    value = os.environ.get(var, "")
    if not value:
        raise InvalidArgument(f"${var} is unset or empty", hint=f"export {var}=… and re-run")
    return value


def _stdin() -> str:
    if sys.stdin is None or sys.stdin.isatty():
        raise InvalidArgument(
            "secrets put needs the value from --from-env VAR or on stdin (never on argv)",
            hint='e.g. printf %s "$TOKEN" | gtc op secrets put <path>',
        )
    return sys.stdin.read().rstrip("\r\n")


@click.command("put")
@click.argument("args", nargs=-1)
@click.option("--env", "environment_id", default=None, help="Environment (default local).")
@click.option("--from-env", "from_env", default=None, help="Read the value from $VAR.")
@click.option("--idempotency-key", default=None)
@click.pass_obj
def command(obj: OpContext, /, args: tuple[str, ...], **flags: Any) -> dict[str, Any]:
    """Seal a secret at <tenant>/<team|_>/<category>/<name> into the dev-store."""
    from greentic.deployer import secrets

    if obj.schema:
        return schema(secrets.SecretPutPayload)
    positional, inline = split_args(args)
    if any(a.split("=", 1)[0] == "value" for a in inline):
        raise InvalidArgument(
            "secret values are never taken from the command line",
            hint="use --from-env VAR or pipe the value on stdin",
        )
    if len(positional) > 1:
        raise click.UsageError("secrets put takes one secret path")
    flags["path"] = positional[0] if positional else None
    data = collect(obj, inline, flags)
    var = data.pop("from_env", None)
    if "value" not in data:
        data["value"] = _from_env(str(var)) if var else _stdin()
    return secrets.put(obj.store(), validate(obj, secrets.SecretPutPayload, data))
