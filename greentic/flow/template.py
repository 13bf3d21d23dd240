"""Render `{{path}}` templates against a flow's context (reference bundle §3.3 templating).

A string that is exactly `{{path}}` yields the raw JSON value (numbers, lists and objects keep
their type); inside other text each placeholder renders as a string. Missing paths render
`""`. Paths use `.key` and `[idx]`; a leading `this.` is dropped. Substituted text is never
re-scanned, so user input cannot inject templates. Called by the engine for every node.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\{?\s*([^{}]*?)\s*\}?\}\}")
_TOKEN = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
_MISSING = object()


def lookup(context: Mapping[str, Any], path: str) -> Any:
    """The value at `path` (e.g. `in.input.text`, `node.a.items[0]`), or `_MISSING`."""
    if path.startswith("this."):
        path = path[5:]
    value: Any = context
    for m in _TOKEN.finditer(path):
        index, key = m.group(1), m.group(2)
        if index is None and key.isdigit() and isinstance(value, list):
            index = key
        if index is not None:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
        elif isinstance(value, Mapping) and key in value:
            value = value[key]
        else:
            return _MISSING
    return value


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
