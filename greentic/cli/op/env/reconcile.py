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


def progress(line: str) -> None:
    """Human progress on stderr; stdout stays one JSON line."""
    click.echo(line, err=True)


@click.command("reconcile")
@click.argument("args", nargs=-1)
@click.option("--context", default=None, help="kubeconfig context (overrides the answer).")
@click.option("--dry-run", is_flag=True, help="Server-side dry run: change nothing.")
@click.option("--wait", is_flag=True, help="Wait for every Deployment to roll out.")
@click.option("--timeout", type=float, default=None, help="Seconds --wait may take (300).")
@click.pass_obj
def command(
    obj: OpContext,
    args: tuple[str, ...],
    context: str | None,
    dry_run: bool,
    wait: bool,
    timeout: float | None,
) -> dict[str, Any]:
    """Apply the environment's objects to a cluster and prune stale workers."""
    from greentic.deployer.k8s import verbs

    if obj.schema:
        return payload.schema(verbs.ReconcilePayload)
    positional, inline = payload.split_args(args)
    if len(positional) > 1:
        raise click.UsageError(f"expected one environment id, got {' '.join(positional)}")
    flags = {
        "environment_id": positional[0] if positional else None,
        "context": context,
        "dry_run": dry_run,
        "wait": wait,
        "timeout": timeout,
    }
    p = payload.validate(obj, verbs.ReconcilePayload, payload.collect(obj, inline, flags))
    return verbs.reconcile_env(
        obj.store(),
        p.environment_id,
        context=p.context,
        dry_run=p.dry_run,
        wait=p.wait,
        timeout=p.timeout,
        progress=progress,
    )
