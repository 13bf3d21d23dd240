"""The command shape `revisions warm` and `revisions archive` share: one revision, one move.

`lifecycle_command(verb, summary)` builds `op revisions <verb> [<revision>]` (or revision_id=… /
--answers) around the deployer function of the same name. Called by warm.py and archive.py.
"""

from __future__ import annotations

from typing import Any, Literal

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import payload_of, schema, split_args

Verb = Literal["warm", "archive"]


def lifecycle_command(verb: Verb, summary: str) -> click.Command:
    """`op revisions <verb>`: validate a RevisionRefPayload and move that revision."""

    @click.command(verb, help=summary)
    @click.argument("args", nargs=-1)
    @click.option("--env", "environment_id", default=None, help="Environment (default local).")
    @click.option("--idempotency-key", default=None)
    @click.pass_obj
    def command(obj: OpContext, /, args: tuple[str, ...], **flags: Any) -> dict[str, Any]:
        from greentic.deployer import revisions

        if obj.schema:
            return schema(revisions.RevisionRefPayload)
        positional, inline = split_args(args)
        if len(positional) > 1:
            raise click.UsageError(f"revisions {verb} takes one revision id")
        flags["revision_id"] = positional[0] if positional else None
        p = payload_of(obj, revisions.RevisionRefPayload, inline, flags)
        move = {"warm": revisions.warm, "archive": revisions.archive}[verb]
        return move(obj.store(), p)

    return command
