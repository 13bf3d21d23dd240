"""What the two cluster verbs (`env reconcile`, `env apply-revision`) share.

Their `--context/--dry-run/--wait/--timeout` flags (`cluster_options`), the keyword arguments
those flags become for the deployer verb (`run_options`), and the progress printer that keeps
stdout to one JSON line. Called by greentic/cli/op/env/reconcile.py and apply_revision.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from greentic.deployer.k8s.verbs import ReconcilePayload

F = TypeVar("F", bound=Callable[..., Any])


def progress(line: str) -> None:
    """Human progress on stderr; stdout stays one JSON line."""
    click.echo(line, err=True)


def cluster_options(*, wait_help: str) -> Callable[[F], F]:
    """Add the four cluster flags to a command; they reach it as keyword arguments."""
    options = [
        click.option("--context", default=None, help="kubeconfig context (overrides the answer)."),
        click.option("--dry-run", is_flag=True, help="Server-side dry run: change nothing."),
        click.option("--wait", is_flag=True, help=wait_help),
        click.option("--timeout", type=float, default=None, help="Seconds --wait may take (300)."),
    ]

    def decorate(fn: F) -> F:
        for option in reversed(options):  # as if stacked in this order above `fn`
            fn = option(fn)
        return fn

    return decorate


def run_options(p: ReconcilePayload) -> dict[str, Any]:
    """The deployer verb's keyword arguments from a validated payload."""
    return {
        "context": p.context,
        "dry_run": p.dry_run,
        "wait": p.wait,
        "timeout": p.timeout,
        "progress": progress,
    }
