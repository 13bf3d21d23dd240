"""A verb's payload from exactly one source: `--answers FILE`, inline `key=value`, or flags.

`collect` picks the one source given (mixing is an InvalidArgument) and returns a plain dict,
refusing text no name or path can hold (`check_text`: a NUL byte, a lone surrogate) by field;
`validate` turns it into the verb's pydantic model, mapping errors to answers-parse (file) or
invalid-argument (command line), as `field[0].name: rule`. `load_answers` reads JSON/YAML
with file+line in errors; `route_options` gives a verb the route flags as one `route_binding`.
Every payload-taking verb calls these; engineer C's render/reconcile reuse them.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from greentic.cli.op.context import OpContext
from greentic.errors import AnswersParseError, InvalidArgument

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")
D = TypeVar("D")
F = TypeVar("F", bound=Callable[..., Any])
KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")
MIXED = (
    "payload sources are mutually exclusive: pass --answers FILE, or key=value pairs, "
    "or the verb's flags — not a mix"
)


def load_answers(path: Path) -> dict[str, Any]:
    """Parse the `--answers` file (JSON or YAML by extension; errors name file and line)."""
    from greentic.deployer.answers_file import load_mapping

    return load_mapping(path)


def _value(raw: str) -> Any:
    """JSON for objects, lists and quoted strings; anything else stays a string (pydantic
    coerces "3" or "true" for int/bool fields, and ids like `42` stay strings)."""
    if raw[:1] in ("{", "[", '"'):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise InvalidArgument(f"value `{raw}` looks like JSON but does not parse") from None
    return raw


def parse_inline(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`key=value` pairs (dotted keys nest: `route_binding.path_prefixes=["/"]`) → dict."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not KEY_RE.match(key):
            raise InvalidArgument(
                f"`{pair}` is not a key=value pair", hint="e.g. bundle_id=webchat-bot"
            )
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise InvalidArgument(f"`{key}` conflicts with an earlier `{part}=…`")
            node = child
        if leaf in node:
            raise InvalidArgument(f"key `{key}` is given twice")
        node[leaf] = _value(raw)
    return out


def _given(value: object) -> bool:
    return value is not None and value is not False and value != () and value != []


def collect(
    ctx_obj: OpContext, inline: tuple[str, ...], flags: Mapping[str, object]
) -> dict[str, Any]:
    """The payload from exactly one of --answers, inline pairs, or the given flags."""
    given = {k: v for k, v in flags.items() if _given(v)}
    sources = [bool(ctx_obj.answers), bool(inline), bool(given)]
    if sum(sources) > 1:
        raise InvalidArgument(MIXED)
    if ctx_obj.answers is not None:
        return check_text(load_answers(ctx_obj.answers), source=ctx_obj.answers)
    if inline:
        return check_text(parse_inline(inline))
    return check_text({k: list(v) if isinstance(v, tuple) else v for k, v in given.items()})


def _refuse_bad_text(text: str, where: str, source: Path | None) -> None:
    """InvalidArgument when `text` holds what no name, path or variable can (NUL, surrogate)."""
    problem = None
    if "\0" in text:
        problem = "contains a NUL byte, which no name or path can hold"
    else:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            problem = "is not valid Unicode (it holds a lone surrogate)"
    if problem is not None:
        prefix = f"{source}: " if source is not None else ""
        raise InvalidArgument(f"{prefix}{where}: {problem}", hint="remove that character")


def check_text(doc: D, *, source: Path | None = None) -> D:
    """`doc` unchanged, or an InvalidArgument naming the first string or key no name, path
    or environment variable can hold (`packs[0].answers_ref: contains a NUL byte …`)."""
    from greentic.spec.validation import field_path

    stack: list[tuple[tuple[int | str, ...], Any]] = [((), doc)]
    while stack:  # iterative: a deeply nested document must not hit the recursion limit
        loc, node = stack.pop()
        if isinstance(node, str):
            _refuse_bad_text(node, field_path(loc) or "the value", source)
        elif isinstance(node, Mapping):
            for key in node:
                _refuse_bad_text(str(key), f"a key of {field_path(loc) or 'the document'}", source)
            stack.extend(reversed([((*loc, str(k)), v) for k, v in node.items()]))
        elif isinstance(node, list | tuple):
            stack.extend(reversed([((*loc, i), v) for i, v in enumerate(node)]))
    return doc


def split_args(args: tuple[str, ...]) -> tuple[list[str], tuple[str, ...]]:
    """Positional words vs `key=value` pairs of a verb's free arguments."""
    positional = [a for a in args if "=" not in a]
    inline = tuple(a for a in args if "=" in a)
    return positional, inline


def validate(ctx_obj: OpContext, model: type[M], data: Mapping[str, Any]) -> M:
    """`model` from `data`; errors name the field and the source (file or command line)."""
    from pydantic import ValidationError

    from greentic.spec.validation import describe

    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        msg = describe(exc)
        if ctx_obj.answers is not None:
            raise AnswersParseError(f"{ctx_obj.answers}: {msg}") from None
        raise InvalidArgument(msg) from None


def schema(model: type[BaseModel]) -> dict[str, Any]:
    """`--schema`: the verb's input JSON schema."""
    return model.model_json_schema()


def payload_of(
    ctx_obj: OpContext, model: type[M], inline: tuple[str, ...], flags: Mapping[str, object]
) -> M:
    """`collect` + `validate` in one step (what most verbs need)."""
    return validate(ctx_obj, model, collect(ctx_obj, inline, flags))


def base_dir(ctx_obj: OpContext) -> Path | None:
    """Relative paths in a payload file resolve next to that file; otherwise the cwd."""
    return ctx_obj.answers.parent if ctx_obj.answers is not None else None


def route_flags(
    path_prefixes: tuple[str, ...], hosts: tuple[str, ...], tenant: str | None, team: str | None
) -> dict[str, Any] | None:
    """A route_binding from `--path-prefix/--host/--tenant/--team`, or None when none given."""
    if not (path_prefixes or hosts or tenant or team):
        return None
    route: dict[str, Any] = {"hosts": list(hosts), "path_prefixes": list(path_prefixes)}
    if tenant or team:
        route["tenant_selector"] = {
            k: v for k, v in (("tenant", tenant), ("team", team)) if v is not None
        }
    return route


def route_options(fn: F) -> F:
    """Add `--path-prefix/--host/--tenant/--team`; the command gets them folded into one
    `route_binding` keyword (None when none is given), as `route_flags` builds it."""

    @functools.wraps(fn)
    def folded(
        *args: Any,
        path_prefixes: tuple[str, ...],
        hosts: tuple[str, ...],
        tenant: str | None,
        team: str | None,
        **kwargs: Any,
    ) -> Any:
        return fn(*args, route_binding=route_flags(path_prefixes, hosts, tenant, team), **kwargs)

    options = [
        click.option("--path-prefix", "path_prefixes", multiple=True, help="Route path prefix."),
        click.option("--host", "hosts", multiple=True, help="Route host."),
        click.option("--tenant", default=None),
        click.option("--team", default=None),
    ]
    command: Any = folded
    for option in reversed(options):  # as if stacked in this order above `fn`
        command = option(command)
    return cast(F, command)


def keyword_payload(
    ctx_obj: OpContext,
    verb: str,
    model: type[M],
    args: tuple[str, ...],
    flags: Mapping[str, object],
) -> M:
    """The payload of a verb that takes only key=value pairs or flags (no positional words)."""
    positional, inline = split_args(args)
    no_positionals(verb, positional)
    return payload_of(ctx_obj, model, inline, flags)


def no_positionals(verb: str, positional: list[str]) -> None:
    if positional:
        raise InvalidArgument(
            f"{verb} takes key=value pairs or flags, not `{' '.join(positional)}`"
        )
