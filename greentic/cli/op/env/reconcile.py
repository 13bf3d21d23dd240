"""`op env reconcile <id> [--context C] [--dry-run] [--wait] [--timeout S]`: the cluster verb.

Server-side applies the rendered objects in order (field manager `greentic-deployer`, force),
prunes stale worker pairs by label, and returns `{namespace, applied, pruned, changed,
objects:[{kind, name, action}]}`. Progress lines (and `--wait`'s rollout display) go to stderr.
"""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op import payload
from greentic.cli.op.context import OpContext
from greentic.cli.op.env.cluster_flags import cluster_options, run_options


@click.command("reconcile")
@click.argument("args", nargs=-1)
@cluster_options(wait_help="Wait for every Deployment to roll out.")
@click.pass_obj
def command(obj: OpContext, /, args: tuple[str, ...], **flags: Any) -> dict[str, Any]:
    """Apply the environment's objects to a cluster and prune stale workers."""
    from greentic.deployer.k8s import verbs

    if obj.schema:
        return payload.schema(verbs.ReconcilePayload)
    positional, inline = payload.split_args(args)
    if len(positional) > 1:
        raise click.UsageError(f"expected one environment id, got {' '.join(positional)}")
    flags["environment_id"] = positional[0] if positional else None
    p = payload.payload_of(obj, verbs.ReconcilePayload, inline, flags)
    return verbs.reconcile_env(obj.store(), p.environment_id, **run_options(p))
