"""Render `{{path}}` templates against a flow's context (reference bundle §3.3 templating).

A string that is exactly `{{path}}` yields the raw JSON value (numbers, lists and objects keep
their type); inside other text each placeholder renders as a string. Missing paths render
`""`. Paths use `.key` and `[idx]`; a leading `this.` is dropped. Substituted text is never
re-scanned, so user input cannot inject templates. `compile_template` turns a payload into a
function of the context once, when the flow is compiled (`model.Node.fill`); `render` is the
uncompiled reference it must equal.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\{?\s*([^{}]*?)\s*\}?\}\}")
_TOKEN = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
_MISSING = object()


@functools.lru_cache(maxsize=4096)
def parse_path(path: str) -> tuple[str | int, ...]:
    """`a.b[0].c` → ("a", "b", 0, "c"); a bare digit segment stays a string (list index or
    dict key, decided at lookup). `this.` is dropped. Cached: templates repeat per request."""
    if path.startswith("this."):
        path = path[5:]
    return tuple(
        int(m.group(1)) if m.group(1) is not None else m.group(2) for m in _TOKEN.finditer(path)
    )


def lookup(context: Mapping[str, Any], path: str) -> Any:
    """The value at `path` (e.g. `in.input.text`, `node.a.items[0]`), or `_MISSING`.

    A path with no segment (`{{}}`, `{{.}}`) is missing: it must never dump the whole
    context (request envelope, every node's output) into a reply."""
    return lookup_tokens(context, parse_path(path))


def to_text(value: Any) -> str:
    """How a value reads inside mixed text: strings as-is, null/missing empty, else JSON."""
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def render_string(text: str, context: Mapping[str, Any]) -> Any:
    """Render one string; an exact `{{path}}` keeps the value's JSON type."""
    if "{{" not in text:
        return text
    whole = PLACEHOLDER.fullmatch(text)
    if whole is not None:
        value = lookup(context, whole.group(1))
        return "" if value is _MISSING else value
    return PLACEHOLDER.sub(lambda m: to_text(lookup(context, m.group(1))), text)


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside `value` (dicts and lists recursively; keys untouched)."""
    if isinstance(value, str):
        return render_string(value, context)
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    return value


Template = Callable[[Mapping[str, Any]], Any]


def lookup_tokens(context: Mapping[str, Any], tokens: tuple[str | int, ...]) -> Any:
    """`lookup` on an already parsed path (compiled templates parse once)."""
    if not tokens:
        return _MISSING
    value: Any = context
    for token in tokens:
        if type(value) is dict or isinstance(value, Mapping):  # dict first: skips the ABC check
            if token not in value:
                return _MISSING
            value = value[token]
        elif isinstance(value, list):
            index = token if isinstance(token, int) else int(token) if token.isdigit() else -1
            if not 0 <= index < len(value):
                return _MISSING
            value = value[index]
        else:
            return _MISSING
    return value


def _constant(value: Any) -> Template:
    return lambda _context: value


def _compile_string(text: str) -> Template:
    if "{{" not in text:
        return _constant(text)
    whole = PLACEHOLDER.fullmatch(text)
    if whole is not None:
        tokens = parse_path(whole.group(1))

        def exact(context: Mapping[str, Any]) -> Any:
            value = lookup_tokens(context, tokens)
            return "" if value is _MISSING else value

        return exact
    literals: list[str] = []
    paths: list[tuple[str | int, ...]] = []
    pos = 0
    for m in PLACEHOLDER.finditer(text):
        literals.append(text[pos : m.start()])
        paths.append(parse_path(m.group(1)))
        pos = m.end()
    tail = text[pos:]
    if len(paths) == 1:  # the usual "Hello {{name}}!": no list to build
        head, only = literals[0], paths[0]
        return lambda context: head + to_text(lookup_tokens(context, only)) + tail
    pieces = tuple(zip(literals, paths, strict=True))

    def mixed(context: Mapping[str, Any]) -> str:
        out: list[str] = []
        for literal, tokens in pieces:
            out.append(literal)
            out.append(to_text(lookup_tokens(context, tokens)))
        out.append(tail)
        return "".join(out)

    return mixed


def compile_template(value: Any) -> Template:
    """`value` compiled once (at flow compile time): calling the result with a context gives
    what `render(value, context)` gives, without re-scanning the strings on every run.
    Containers are rebuilt on every call, so no run can mutate another run's output."""
    if isinstance(value, str):
        return _compile_string(value)
    if isinstance(value, dict):
        items = tuple((k, compile_template(v)) for k, v in value.items())
        return lambda context: {k: fill(context) for k, fill in items}
    if isinstance(value, list):
        fills = tuple(compile_template(v) for v in value)
        return lambda context: [fill(context) for fill in fills]
    return _constant(value)
