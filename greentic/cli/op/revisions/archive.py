"""`op revisions archive [<revision>]` (or revision_id=… / --answers)."""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import payload_of, schema, split_args


@click.command("archive")
@click.argument("args", nargs=-1)
@click.option("--env", "environment_id", default=None, help="Environment (default local).")
@click.option("--idempotency-key", default=None)
@click.pass_obj
def command(obj: OpContext, /, args: tuple[str, ...], **flags: Any) -> dict[str, Any]:
    """Lifecycle: → archived (not while routed)."""
    from greentic.deployer import revisions

    if obj.schema:
        return schema(revisions.RevisionRefPayload)
    positional, inline = split_args(args)
    if len(positional) > 1:
        raise click.UsageError("revisions archive takes one revision id")
    flags["revision_id"] = positional[0] if positional else None
    p = payload_of(obj, revisions.RevisionRefPayload, inline, flags)
    return revisions.archive(obj.store(), p)
