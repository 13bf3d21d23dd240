"""`op env apply-revision <id> <rev> [--context C] [--dry-run] [--wait] [--timeout S]`.

Applies one revision's worker Deployment + Service (or prunes them when the revision is
archived or failed) without touching the env-level objects; `--wait` waits for its rollout.
"""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op import payload
from greentic.cli.op.context import OpContext
from greentic.cli.op.env.reconcile import progress


@click.command("apply-revision")
@click.argument("args", nargs=-1)
@click.option("--context", default=None, help="kubeconfig context (overrides the answer).")
@click.option("--dry-run", is_flag=True, help="Server-side dry run: change nothing.")
@click.option("--wait", is_flag=True, help="Wait for the worker to roll out.")
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
    """Apply (or prune) one revision's worker pair."""
    from greentic.deployer.k8s import verbs

    if obj.schema:
        return payload.schema(verbs.ApplyRevisionPayload)
    positional, inline = payload.split_args(args)
    if len(positional) not in (0, 2):
        raise click.UsageError("expected <environment id> <revision id>")
    env_id, rev = positional if positional else (None, None)
    flags = {
        "environment_id": env_id,
        "revision_id": rev,
        "context": context,
        "dry_run": dry_run,
        "wait": wait,
        "timeout": timeout,
    }
    p = payload.validate(obj, verbs.ApplyRevisionPayload, payload.collect(obj, inline, flags))
    return verbs.apply_revision(
        obj.store(),
        p.environment_id,
        p.revision_id,
        context=p.context,
        dry_run=p.dry_run,
        wait=p.wait,
        timeout=p.timeout,
        progress=progress,
    )
