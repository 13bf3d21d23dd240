"""`op env …`: one module per verb, imported only when that verb runs.

render, reconcile and apply-revision are engineer C's modules; until they exist the lazy
table turns them into clean not-yet-implemented errors.
"""

from __future__ import annotations

import click

from greentic.cli.lazy import Lazy
from greentic.cli.op import NounGroup

P = "greentic.cli.op.env"
VERBS = {
    "create": Lazy(f"{P}.create:command", "Create an environment: create <id> [--name N]."),
    "init": Lazy(f"{P}.init:command", "Create/heal `local` with the default bindings."),
    "show": Lazy(f"{P}.show:command", "Show environment.json and runtime-config."),
    "list": Lazy(f"{P}.list:command", "List environments in the store."),
    "apply": Lazy(f"{P}.apply:command", "Apply an env-manifest: validate → plan → execute."),
    "render": Lazy(f"{P}.render:command", "Render Kubernetes objects (pure)."),
    "reconcile": Lazy(f"{P}.reconcile:command", "Server-side apply the render to a cluster."),
    "apply-revision": Lazy(f"{P}.apply_revision:command", "Apply one revision's worker pair."),
}


@click.group(cls=NounGroup, lazy=VERBS, label="env")
def env() -> None:
    """Environments."""
