"""The one error boundary of every console entry point: one JSON line on stderr, exit 1.

`gtc`, `greentic-deployer`, `greentic-start` and the `op`, `bundle` and `pack` groups are
`Boundary` groups. Whatever fails below them — a GreenticError, a click usage error, an OS
error, a pydantic ValidationError or a bug — ends as exactly one line on stderr (SPEC §4):

    {"op":<verb>,"noun":<noun>,"error":{"kind":<kind>,"message":<text>,"hint":<fix>}}

`hint` is left out when there is none. Human progress may precede that line; nothing follows
it. `classify` is the only place an exception becomes user text: "unexpected" is kept for bugs
(with a hint to report them); `--debug` (op) or GREENTIC_DEBUG=1 lets a bug's traceback through.
Ctrl-C is exit 130. Success envelopes stay with their commands (`succeed` for `op`).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import click

from greentic.cli.lazy import LazyGroup
from greentic.cli.startup import skip_pydantic_plugins

LABELS = "greentic.boundary.labels"
DEBUG = "greentic.boundary.debug"
BUG_HINT = (
    "this is a bug: rerun with `op --debug` or GREENTIC_DEBUG=1 for the traceback, and report it"
)
INTERRUPTED = 130
LONG_WORD = re.compile(r"\S{1001,}")  # a pasted blob or a huge id: shortened in the middle
UNEXPECTED_LIMIT = 300


@dataclass
class Labels:
    """The noun/verb an envelope carries; filled in while click resolves the command line."""

    noun: str = ""
    op: str = ""


@dataclass(frozen=True)
class Failure:
    """What a user is told: SPEC §4 kind, one message, and the fix when there is one."""

    kind: str
    message: str
    hint: str | None = None

    def error(self) -> dict[str, str]:
        doc = {"kind": self.kind, "message": shorten(self.message)}
        if self.hint:
            doc["hint"] = shorten(self.hint)
        return doc


def labels_of(ctx: click.Context) -> Labels:
    """The Labels of this invocation (click shares `meta` along the context chain)."""
    labels = ctx.meta.get(LABELS)
    if not isinstance(labels, Labels):
        labels = Labels()
        ctx.meta[LABELS] = labels
    return labels


def debug_of(ctx: click.Context | None) -> bool:
    """`op --debug` (recorded in the context) or GREENTIC_DEBUG=1 in the environment."""
    if ctx is not None and ctx.meta.get(DEBUG):
        return True
    return os.environ.get("GREENTIC_DEBUG", "") not in ("", "0")


def dumps(doc: Any) -> str:
    """Compact JSON on exactly one line: non-ASCII is escaped, so no character a reader may
    treat as a line break (U+0085, U+2028, …) ever reaches the stream raw."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=True, default=str)


def shorten(text: str) -> str:
    """Elide the middle of any word over 1000 characters (keeps its start and its end, where a
    path has its file name); a real path or URL stays whole."""
    return LONG_WORD.sub(lambda m: f"{m.group(0)[:600]}...{m.group(0)[-200:]}", text)


def succeed(labels: Labels, result: Any) -> None:
    """The `op` success envelope: one line on stdout."""
    click.echo(dumps({"op": labels.op, "noun": labels.noun, "result": result}))


def fail(labels: Labels, failure: Failure) -> NoReturn:
    """Print the failure line on stderr and exit 1."""
    click.echo(dumps({"op": labels.op, "noun": labels.noun, "error": failure.error()}), err=True)
    raise click.exceptions.Exit(1)


def guard(labels: Labels, exc: BaseException, *, debug: bool) -> NoReturn:
    """Turn `exc` into the failure line (under debug, a non-user error keeps its traceback)."""
    from greentic.errors import GreenticError

    if debug and not isinstance(exc, GreenticError | click.ClickException):
        raise exc
    fail(labels, classify(exc))


def interrupted() -> NoReturn:
    click.echo("interrupted", err=True)
    raise click.exceptions.Exit(INTERRUPTED)


def classify(exc: BaseException) -> Failure:
    """The Failure a user sees for `exc`: no traceback, no pydantic boilerplate, no secrets."""
    from greentic.errors import GreenticError

    if isinstance(exc, GreenticError):
        return Failure(exc.kind, exc.message, exc.hint)
    if isinstance(exc, click.ClickException):
        return _usage(exc)
    if isinstance(exc, OSError):
        where = f" on {exc.filename}" if exc.filename else ""
        return Failure("io", f"io error{where}: {exc.strerror or exc}", _io_hint(exc))
    validation = _validation(exc)
    if validation is not None:
        return validation
    impossible = _impossible_text(exc)
    if impossible is not None:
        return impossible
    text = str(exc)
    if len(text) > UNEXPECTED_LIMIT:
        text = text[:UNEXPECTED_LIMIT] + "..."
    return Failure("store", f"unexpected {type(exc).__name__}: {text}", BUG_HINT)


def _usage(exc: click.ClickException) -> Failure:
    ctx = getattr(exc, "ctx", None)
    hint = f"see `{ctx.command_path} --help`" if isinstance(ctx, click.Context) else None
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        choices = ""
        if isinstance(exc.ctx.command, click.Group):
            choices = ", ".join(exc.ctx.command.list_commands(exc.ctx))
        message = f"`{exc.ctx.command_path}` needs a subcommand: {choices}"
        return Failure("invalid-argument", message, hint)
    return Failure("invalid-argument", exc.format_message(), hint)


def _validation(exc: BaseException) -> Failure | None:
    """A pydantic ValidationError that no loader caught: a document breaks the data model."""
    core = sys.modules.get("pydantic_core")  # never imported here: only present if pydantic is
    if core is None or not isinstance(exc, core.ValidationError):
        return None
    from greentic.spec.validation import describe

    return Failure("spec", describe(exc))


def _impossible_text(exc: BaseException) -> Failure | None:
    """Text no path or name can hold (a NUL byte, a lone surrogate) that reached the OS."""
    if isinstance(exc, UnicodeEncodeError) and "surrogate" in str(exc):
        return Failure(
            "invalid-argument",
            "a name or path is not valid Unicode (it holds a lone surrogate)",
            "fix the input text; every name and path must be valid UTF-8",
        )
    if isinstance(exc, ValueError) and "null" in str(exc) and "embedded" in str(exc):
        return Failure(
            "invalid-argument",
            "a name or path contains a NUL byte, which no file name can hold",
            "remove the NUL (\\0) character from the input",
        )
    return None


def _io_hint(exc: OSError) -> str | None:
    """The fix for the OS errors a user causes (a read-only or foreign-owned store, a full
    disk, an over-long name); anything else keeps the reason alone."""
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
    return None


class SafePath(click.Path):
    """click.Path that refuses a NUL byte as a usage error naming the option (os.stat would
    raise a bare ValueError). Every path option and argument of the CLI uses it."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = os.fsdecode(value) if isinstance(value, str | bytes | os.PathLike) else ""
        if "\0" in text:
            self.fail("contains a NUL byte, which no path can hold", param, ctx)
        return super().convert(value, param, ctx)


class LabelledGroup(LazyGroup):
    """Records the envelope labels while click resolves: with a fixed `noun` (e.g. "bundle")
    the next word is the verb; without, the next word is the noun, and a leaf command's name
    is also its verb (`gtc start` → start/start)."""

    def __init__(self, *args: Any, noun: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.noun = noun

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        labels = labels_of(ctx)
        word = args[0] if args else ""
        if self.noun is None:
            labels.noun = word
        else:
            labels.noun, labels.op = self.noun, word
        name, cmd, rest = super().resolve_command(ctx, args)
        if self.noun is None and cmd is not None and not isinstance(cmd, click.Group):
            labels.op = name or ""
        return name, cmd, rest


class Boundary(LabelledGroup):
    """A group where every failure below it ends as the one JSON error line and exit 1."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """The console scripts' entry: turn pydantic's plugin discovery off first (#16)."""
        skip_pydantic_plugins()
        return super().main(*args, **kwargs)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.Exit:
            raise
        except Exception as exc:  # a bad flag of this group itself
            labels = labels_of(parent) if parent is not None else Labels()
            guard(labels, exc, debug=debug_of(parent))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit:
            raise
        except (click.Abort, KeyboardInterrupt):
            interrupted()
        except Exception as exc:
            guard(labels_of(ctx), exc, debug=debug_of(ctx))
