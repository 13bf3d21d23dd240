"""`op --answers <manifest> env apply [--dry-run|--check] [--yes]`: converge the store.

The plan and progress go to stderr; the report is the envelope's result. On a terminal an
unset secret is prompted for (hidden) and the plan is confirmed unless --yes; without a
terminal nothing is ever prompted — apply proceeds, and a missing secret is an error.
Files the manifest names stay inside its directory unless --allow-outside.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import check_text
from greentic.errors import InvalidArgument


def _tty() -> bool:
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@click.command("apply")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--check", is_flag=True, help="Fail (conflict) when changes are pending.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--non-interactive", is_flag=True, help="Never prompt (as without a terminal).")
@click.option(
    "--allow-outside",
    is_flag=True,
    help="Let answers_ref/bundle_path point outside the manifest's directory.",
)
@click.pass_obj
def command(
    obj: OpContext,
    dry_run: bool,
    check: bool,
    yes: bool,
    non_interactive: bool,
    allow_outside: bool,
) -> dict[str, Any]:
    """Apply the env-manifest given with `op --answers FILE`."""
    from greentic.deployer import apply
    from greentic.deployer.answers_file import load_mapping
    from greentic.spec.manifest import EnvManifest

    if obj.schema:
        return EnvManifest.model_json_schema(by_alias=True)
    if obj.answers is None:
        raise InvalidArgument(
            "env apply needs the env-manifest: pass it with `op --answers <manifest> env apply`"
        )
    if dry_run and check:
        raise InvalidArgument("--dry-run and --check are mutually exclusive")
    # text no name or path can hold is refused by field before apply reads anything else
    check_text(load_mapping(obj.answers, what="env-manifest"), source=obj.answers)
    mode: apply.Mode = "dry-run" if dry_run else "check" if check else "apply"
    interactive = _tty() and not non_interactive
    return apply.apply(
        obj.store(),
        obj.answers,
        mode=mode,
        yes=yes,
        interactive=interactive,
        prompt=lambda text: str(
            click.prompt(text, hide_input=True, default="", err=True, show_default=False)
        ),
        confirm=lambda text: click.confirm(text, default=False, err=True),
        progress=lambda line: click.echo(line, err=True),
        allow_outside=allow_outside,
    )
