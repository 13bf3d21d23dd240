"""`op env apply-revision <id> <rev> [--context C] [--dry-run] [--wait] [--timeout S]`.

Applies one revision's worker Deployment + Service (or prunes them when the revision is
archived or failed) without touching the env-level objects; `--wait` waits for its rollout.
"""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op import payload
from greentic.cli.op.context import OpContext
from greentic.cli.op.env.cluster_flags import cluster_options, run_options


@click.command("apply-revision")
@click.argument("args", nargs=-1)
@cluster_options(wait_help="Wait for the worker to roll out.")
@click.pass_obj
def command(obj: OpContext, /, args: tuple[str, ...], **flags: Any) -> dict[str, Any]:
    """Apply (or prune) one revision's worker pair."""
    from greentic.deployer.k8s import verbs

    if obj.schema:
        return payload.schema(verbs.ApplyRevisionPayload)
    positional, inline = payload.split_args(args)
    if len(positional) not in (0, 2):
        raise click.UsageError("expected <environment id> <revision id>")
    env_id, rev = positional if positional else (None, None)
    flags |= {"environment_id": env_id, "revision_id": rev}
    p = payload.payload_of(obj, verbs.ApplyRevisionPayload, inline, flags)
    return verbs.apply_revision(obj.store(), p.environment_id, p.revision_id, **run_options(p))
