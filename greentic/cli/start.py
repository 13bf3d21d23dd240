"""`greentic-start start|stop --env <id>`: the worker's console script (SPEC §7).

`main` is the entry point (`greentic-start --env x` means `start --env x`, as upstream);
`start` is also mounted as `gtc start`. Options and wiring only: the work is in
`greentic.worker.process`, imported lazily for a fast cold boot. A failure is the error
boundary's one JSON line on stderr (noun `start`, op `start`/`stop`) and exit 1; the boot's
own refusal text is its `message`.
"""

from __future__ import annotations

import gc
import os
import sys

import click

from greentic.cli.boundary import Boundary, SafePath

DEFAULT_ENV = "local"
CONTEXT = {"help_option_names": ["-h", "--help"]}


def resolve_env(flag: str | None) -> str:
    """`--env`, else `$GREENTIC_ENV`, else `local`."""
    return flag or os.environ.get("GREENTIC_ENV", "").strip() or DEFAULT_ENV


def skip_httpx_cli() -> None:
    """Keep httpx from importing its command-line tool (rich, pygments) with the package.

    `import httpx` runs `from ._main import main` and falls back to a stub on ImportError;
    the worker never runs httpx's CLI, and importing it cost ~50 ms of a ~300 ms cold boot
    (bench/cold_boot.py, docs/decisions.md). A no-op once httpx's CLI is already imported.
    """
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


env_option = click.option(
    "--env", "env_id", metavar="ID", help="Environment id (default: $GREENTIC_ENV, else local)."
)
store_option = click.option(
    "--store-root",
    type=SafePath(file_okay=False),
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
    help="Front the worker with a cloudflared quick tunnel and register Telegram webhooks.",
)
@click.option(
    "--cloudflared-binary",
    metavar="PATH",
    help="cloudflared executable (relative to the env dir; else "
    "$GREENTIC_OPERATOR_BINARY_CLOUDFLARED, <env>/bin/cloudflared, PATH).",
)
def start(
    env_id: str | None, store_root: str | None, cloudflared: str, cloudflared_binary: str | None
) -> None:
    """Boot the env's worker: pull routed bundles if needed, then serve until SIGTERM."""
    skip_httpx_cli()
    # No cyclic GC while booting (#16): the imports and the pull allocate hundreds of thousands
    # of long-lived objects, and ~100 collections scanning them were ~12 ms of a cold boot.
    # Reference counting still frees everything acyclic; the server turns the collector back
    # on once it serves (greentic.worker.server.serving), and `finally` covers a boot that
    # fails or ends.
    gc.disable()
    try:
        from greentic.worker import process

        opts = process.StartOptions(
            env_id=resolve_env(env_id),
            store_root=store_root,
            cloudflared=cloudflared == "on",
            cloudflared_binary=cloudflared_binary,
        )
        code = process.start(opts)
    finally:
        gc.enable()
    if code:
        raise click.exceptions.Exit(code)


@click.command("stop", context_settings=CONTEXT)
@env_option
@store_option
@click.option(
    "--keep-webhooks", is_flag=True, help="Leave the Telegram webhooks the worker registered."
)
def stop(env_id: str | None, store_root: str | None, keep_webhooks: bool) -> None:
    """Stop the worker serving the env (SIGTERM, then wait), its tunnel and its webhooks."""
    from greentic.worker import process

    click.echo(
        process.stop(resolve_env(env_id), store_root=store_root, keep_webhooks=keep_webhooks)
    )


@click.group("greentic-start", cls=Boundary, noun="start", context_settings=CONTEXT)
def cli() -> None:
    """The Greentic worker runtime."""


cli.add_command(start)
cli.add_command(stop)


def main(argv: list[str] | None = None) -> None:
    """Console entry point; `greentic-start --env x` means `greentic-start start --env x`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or (args[0] not in cli.commands and args[0] not in ("-h", "--help")):
        args.insert(0, "start")
    gc.disable()  # from the first import of a subcommand on, as in `start` (#16)
    try:
        cli.main(args=args, prog_name="greentic-start")
    finally:
        gc.enable()
