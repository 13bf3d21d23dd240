"""`op env render <id> [--out DIR]`: the env's Kubernetes objects, without touching a cluster.

Result `{namespace, count, objects:[{apiVersion, kind, name}]}`; with `--out` also writes one
YAML file per object, numbered in apply order, ready for `kubectl apply -f DIR`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from greentic.cli.boundary import SafePath
from greentic.cli.op import payload
from greentic.cli.op.context import OpContext


@click.command("render")
@click.argument("args", nargs=-1)
@click.option("--out", type=SafePath(path_type=Path), default=None, help="Write YAML here.")
@click.pass_obj
def command(obj: OpContext, args: tuple[str, ...], out: Path | None) -> dict[str, Any]:
    """Render an environment to Kubernetes objects (pure; --out writes YAML files)."""
    from greentic.deployer.k8s import verbs

    if obj.schema:
        return payload.schema(verbs.RenderPayload)
    positional, inline = payload.split_args(args)
    if len(positional) > 1:
        raise click.UsageError(f"expected one environment id, got {' '.join(positional)}")
    flags = {"environment_id": positional[0] if positional else None, "out": out and str(out)}
    p = payload.validate(obj, verbs.RenderPayload, payload.collect(obj, inline, flags))
    return verbs.render_env(obj.store(), p.environment_id, out=Path(p.out) if p.out else None)
