"""A click group whose subcommands are imported only when invoked (hatch/pip style).

`gtc --help` lists subcommands from the table's help strings without importing them, so the
CLI starts fast. A subcommand whose module is not installed yet becomes a stub that fails
with `not-yet-implemented` instead of a traceback. Used by `main` and every `op` noun.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import click


class Lazy(NamedTuple):
    """Where a subcommand lives (`module:attr`) and its one-line help for listings."""

    target: str
    help: str


def _owns(missing: str | None, module: str) -> bool:
    """True when the ModuleNotFoundError is about `module` itself (or a parent package)."""
    return bool(missing) and (module == missing or module.startswith(f"{missing}."))


def missing_command(name: str, target: str) -> click.Command:
    """A stand-in for a subcommand whose module does not exist yet: fails cleanly when run."""

    def callback(**_: Any) -> None:
        from greentic.errors import NotYetImplemented

        raise NotYetImplemented(
            f"`{name}` is not available in this build yet (module {target.split(':')[0]} "
            "is not installed)"
        )

    return click.Command(
        name,
        callback=callback,
        help="(not available in this build yet)",
        params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


def load(name: str, target: str) -> click.Command:
    """Import `module:attr`; a missing module gives the not-yet-implemented stub."""
    module, _, attr = target.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if _owns(exc.name, module):
            return missing_command(name, target)
        raise
    cmd = getattr(mod, attr)
    if not isinstance(cmd, click.Command):
        raise TypeError(f"{target} is not a click command")
    return cmd


class LazyGroup(click.Group):
    """A group with a `lazy` table of subcommands: `{name: Lazy("pkg.mod:attr", "help")}`."""

    def __init__(self, *args: Any, lazy: Mapping[str, Lazy] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, Lazy] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self.lazy.get(cmd_name)
        if entry is not None:
            return load(cmd_name, entry.target)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List subcommands from the table's help strings (no imports)."""
        rows = []
        for name in self.list_commands(ctx):
            entry = self.lazy.get(name)
            if entry is not None:
                rows.append((name, entry.help))
                continue
            cmd = super().get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(formatter.width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
