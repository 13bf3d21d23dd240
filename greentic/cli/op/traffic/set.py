"""`op traffic set <deployment> <rev>=<weight>…` (N bps, N%, Nbps) or `--answers` entries."""

from __future__ import annotations

import re
from typing import Any

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import payload_of, schema, split_args

ULID_KEY = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}=", re.IGNORECASE)


@click.command("set")
@click.argument("args", nargs=-1)
@click.option("--env", "environment_id", default=None, help="Environment (default local).")
@click.option("--idempotency-key", default=None, help="Replay key (default: from the split).")
@click.pass_obj
def command(obj: OpContext, /, args: tuple[str, ...], **flags: Any) -> dict[str, Any]:
    """Route <deployment>'s traffic: <rev>=10000, <rev>=100%, <rev>=5000bps …"""
    from greentic.deployer import traffic

    if obj.schema:
        return schema(traffic.TrafficSetPayload)
    positional, pairs = split_args(args)
    # After a positional deployment every `<rev>=<weight>` is an entry, so a mistyped revision
    # id is reported as such; a payload key there (environment_id=…) is still a mix.
    fields = traffic.TrafficSetPayload.model_fields

    def is_entry(arg: str) -> bool:
        if positional:
            return arg.partition("=")[0] not in fields
        return ULID_KEY.match(arg) is not None

    entries = [traffic.parse_entry(a) for a in pairs if is_entry(a)]
    inline = tuple(a for a in pairs if not is_entry(a))
    if len(positional) > 1:
        raise click.UsageError("traffic set takes one deployment id, then <rev>=<weight> pairs")
    flags["deployment_id"] = positional[0] if positional else None
    flags["entries"] = entries or None
    return traffic.set_split(obj.store(), payload_of(obj, traffic.TrafficSetPayload, inline, flags))
