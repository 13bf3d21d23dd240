"""`greentic-start start|stop --env <id>`: the worker's console script (SPEC §7).

`main` is the entry point (`greentic-start --env x` means `start --env x`, as upstream);
`start` is also mounted as `gtc start`. Parsing and error lines only: the work is in
`greentic.worker.process`, imported lazily for a fast cold boot. A user error is one
`error: <kind>: <message>` line on stderr and exit 1, never a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import click

from greentic.cli.bundle import cli_errors
from greentic.errors import GreenticError

DEFAULT_ENV = "local"
CONTEXT = {"help_option_names": ["-h", "--help"]}


def resolve_env(flag: str | None) -> str:
    """`--env`, else `$GREENTIC_ENV`, else `local`."""
    return flag or os.environ.get("GREENTIC_ENV", "").strip() or DEFAULT_ENV


def guarded(run: Callable[[], int]) -> int:
    """Run a command body; an unexpected failure is one line (traceback with GREENTIC_DEBUG=1)."""
    try:
        return run()
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except (GreenticError, OSError):
        raise  # cli_errors prints them as one line
    except Exception as exc:
        if os.environ.get("GREENTIC_DEBUG"):
            raise
        click.echo(
            f"error: internal: {type(exc).__name__}: {exc} (hint: rerun with GREENTIC_DEBUG=1 "
            "for the traceback and report it)",
            err=True,
        )
        return 1


env_option = click.option(
    "--env", "env_id", metavar="ID", help="Environment id (default: $GREENTIC_ENV, else local)."
)
store_option = click.option(
    "--store-root",
    metavar="DIR",
    help="Env store root (default: $GREENTIC_STORE_ROOT, else ~/.greentic/environments).",
)


@click.command("start", context_settings=CONTEXT)
@env_option
@store_option
@click.option(
    "--cloudflared",
    type=click.Choice(["on", "off"]),
    default="off",
    show_default=True,
    help="Front the worker with a cloudflared tunnel (not implemented yet).",
)
@click.option("--cloudflared-binary", metavar="PATH", help="cloudflared executable to run.")
@cli_errors
def start(
    env_id: str | None, store_root: str | None, cloudflared: str, cloudflared_binary: str | None
) -> None:
    """Boot the env's worker: pull routed bundles if needed, then serve until SIGTERM."""
    from greentic.worker import process

    opts = process.StartOptions(
        env_id=resolve_env(env_id),
        store_root=store_root,
        cloudflared=cloudflared == "on",
        cloudflared_binary=cloudflared_binary,
    )
    sys.exit(guarded(lambda: process.start(opts)))


@click.command("stop", context_settings=CONTEXT)
@env_option
@store_option
@cli_errors
def stop(env_id: str | None, store_root: str | None) -> None:
    """Stop the worker serving the env (SIGTERM, then wait about a second)."""
    from greentic.worker import process

    def run() -> int:
        click.echo(process.stop(resolve_env(env_id), store_root=store_root))
        return 0

    sys.exit(guarded(run))


@click.group("greentic-start", context_settings=CONTEXT)
def cli() -> None:
    """The Greentic worker runtime."""


cli.add_command(start)
cli.add_command(stop)


def main(argv: list[str] | None = None) -> None:
    """Console entry point; `greentic-start --env x` means `greentic-start start --env x`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or (args[0] not in cli.commands and args[0] not in ("-h", "--help")):
        args.insert(0, "start")
    cli.main(args=args, prog_name="greentic-start")
