"""A pydantic ValidationError as one user line: `packs[0].slot: <the rule>`.

pydantic's own text has a "1 validation error for Model" header, the input value, the error
type and a documentation URL; a user needs only the field path and the rule it broke. Used by
the payload and manifest loaders and by the CLI's error boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only `.errors()` is used: pydantic-core's error (pydantic re-exports it)
    from pydantic_core import ValidationError

NOISE_PREFIXES = ("Value error, ", "Assertion failed, ")


def field_path(loc: Sequence[int | str]) -> str:
    """`("packs", 0, "slot")` → `packs[0].slot` (list indexes in brackets, as in JSON paths)."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def describe(exc: ValidationError) -> str:
    """The first problem as `path: rule` (unknown keys named), plus how many more there are."""
    problems = exc.errors(include_url=False, include_input=False)
    if not problems:
        return "the document does not match its schema"
    first = problems[0]
    loc = tuple(first["loc"])
    rule = str(first["msg"])
    for prefix in NOISE_PREFIXES:
        rule = rule.removeprefix(prefix)
    if first["type"] == "extra_forbidden" and loc:
        rule = f"unknown key `{loc[-1]}`"
    elif first["type"] == "missing":
        rule = "required field is missing"
    path = field_path(loc)
    line = f"{path}: {rule}" if path else rule
    more = len(problems) - 1
    if more:
        line += f" (and {more} more problem{'s' if more > 1 else ''})"
    return line
