"""The SPEC §4 JSON envelope, written in exactly one place for every `op` verb.

Success: one compact line `{"op","noun","result"}` on stdout. Failure: one line
`{"op","noun","error":{"kind","message"}}` on stderr (+ `hint: …`) and exit 1. `guard` maps
any exception to that failure line; only `--debug` lets a traceback through. The `op` group
and the root `gtc` group call these; other command groups (bundle, pack) may reuse them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NoReturn

import click

DEBUG_HINT = "rerun with --debug for a traceback"


@dataclass
class Labels:
    """The noun/verb names an envelope carries; filled in while click resolves the command."""

    noun: str = ""
    op: str = ""


def dumps(doc: Any) -> str:
    """Compact JSON on exactly one line: non-ASCII is escaped, so no character a reader may
    treat as a line break (U+0085, U+2028, …) ever reaches the stream raw."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=True, default=str)


def succeed(labels: Labels, result: Any) -> None:
    click.echo(dumps({"op": labels.op, "noun": labels.noun, "result": result}))


def fail(labels: Labels, kind: str, message: str, hint: str | None = None) -> NoReturn:
    """Print the failure line (+ hint) to stderr and exit 1."""
    doc = {"op": labels.op, "noun": labels.noun, "error": {"kind": kind, "message": message}}
    click.echo(dumps(doc), err=True)
    if hint:
        click.echo(f"hint: {' '.join(hint.splitlines())}", err=True)
    raise click.exceptions.Exit(1)


def classify(exc: BaseException) -> tuple[str, str, str | None]:
    """(kind, message, hint) of any exception, with no traceback and no secret material."""
    from greentic.errors import GreenticError

    if isinstance(exc, GreenticError):
        return exc.kind, exc.message, exc.hint
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        group_ctx: click.Context = exc.ctx
        choices = ""
        if isinstance(group_ctx.command, click.Group):
            choices = ", ".join(group_ctx.command.list_commands(group_ctx))
        name = group_ctx.command_path
        return "invalid-argument", f"`{name}` needs a subcommand: {choices}", f"see `{name} --help`"
    if isinstance(exc, click.ClickException):
        hint = None
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            hint = f"see `{ctx.command_path} --help`"
        return "invalid-argument", exc.format_message(), hint
    if isinstance(exc, OSError):
        where = f" on {exc.filename}" if exc.filename else ""
        return "io", f"io error{where}: {exc.strerror or exc}", _io_hint(exc)
    text = str(exc)
    if len(text) > 300:
        text = text[:300] + "…"
    return "store", f"unexpected {type(exc).__name__}: {text}", DEBUG_HINT


def _io_hint(exc: OSError) -> str:
    """The fix for the OS errors a user causes (a read-only or foreign-owned store, a full
    disk, an over-long name); anything else keeps the --debug pointer."""
    import errno

    target = f"`{exc.filename}`" if exc.filename else "the path"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"make {target} writable for this user, or point the verb at a writable store "
            "with --store-root DIR (or $GREENTIC_STORE_ROOT)"
        )
    if exc.errno == errno.ENOSPC:
        return f"free some space on the file system holding {target}, then re-run"
    if exc.errno == errno.ENAMETOOLONG:
        return "use a shorter name (the file system limits one path segment to 255 bytes)"
    return DEBUG_HINT


def guard(labels: Labels, exc: BaseException, *, debug: bool) -> NoReturn:
    """Turn `exc` into the failure envelope (re-raising non-user errors under --debug)."""
    from greentic.errors import GreenticError

    if debug and not isinstance(exc, GreenticError | click.ClickException):
        raise exc
    kind, message, hint = classify(exc)
    fail(labels, kind, message, hint)
