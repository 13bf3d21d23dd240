"""The shape every `repro_<name>.py` scenario shares: one troubleshooting row, four phases.

A repro module declares `ROW = Row(...)` (the row of docs/troubleshooting.md it reproduces),
`NEEDS` like any scenario, and a `run(ctx)` that goes through the phases in order:

    repro.symptom(ctx, "worker never Ready")      # what the operator sees, asserted exactly
    repro.cause(ctx, "pulled bytes ≠ pinned")     # the documented cause, shown from evidence
    repro.fix(ctx, "re-stage the right bytes", apply_fix)   # the documented fix, as an operator
    repro.recovered(ctx, "Ready and serving")     # the same probe now succeeds

`fix` runs its action unless `GTC_REPRO_SKIP_FIX=1` is set: then the phase is announced as
skipped and the `recovered` checks must fail, which is how the tests prove that a repro needs
its fix (a repro that passes without the fix is not a repro). Used by scenarios/repro_*.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from harness.context import ScenarioContext

SKIP_FIX_ENV = "GTC_REPRO_SKIP_FIX"
PREFIX = "repro-"


@dataclass(frozen=True)
class Row:
    """One troubleshooting row: its name (`repro <name>`), and the words the page shows."""

    name: str
    symptom: str
    cause: str
    fix: str
    # a regression guard: upstream had this symptom, this product fixed it; the repro asserts
    # the symptom ABSENT and still runs upstream's fix (its recovered checks need the fix)
    guard: bool = False


def symptom(ctx: ScenarioContext, text: str) -> None:
    ctx.step(f"symptom: {text}")


def cause(ctx: ScenarioContext, text: str) -> None:
    ctx.step(f"cause: {text}")


def fix(ctx: ScenarioContext, text: str, action: Callable[[], None]) -> bool:
    """Apply the documented fix (unless the skip-fix test hook is set); True when applied."""
    if os.environ.get(SKIP_FIX_ENV) == "1":
        ctx.step(f"fix: SKIPPED ({SKIP_FIX_ENV}=1): {text}")
        return False
    ctx.step(f"fix: {text}")
    action()
    return True


def recovered(ctx: ScenarioContext, text: str) -> None:
    ctx.step(f"recovered: {text}")


def row_of(module: ModuleType) -> Row | None:
    """The module's ROW when it is a repro scenario."""
    row = getattr(module, "ROW", None)
    return row if isinstance(row, Row) else None
