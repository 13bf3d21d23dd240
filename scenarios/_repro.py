"""The shape every `repro_<name>.py` scenario shares: one troubleshooting row, four phases.

A repro module declares `ROW = Row(...)` (the row of docs/troubleshooting.md it reproduces),
`NEEDS` like any scenario, and a `run(ctx)` that goes through the phases in order:

    repro.symptom(ctx, "worker never Ready")      # what the operator sees, asserted exactly
    repro.cause(ctx, "pulled bytes ≠ pinned")     # the documented cause, shown from evidence
    repro.fix(ctx, "re-stage the right bytes", apply_fix)   # the documented fix, as an operator
    repro.recovered(ctx, "Ready and serving")     # the same probe now succeeds

`fix` runs its action unless `GTC_REPRO_SKIP_FIX=1` is set: then the phase is announced as
skipped and the `recovered` checks must fail, which is how the tests prove that a repro needs
its fix (a repro that passes without the fix is not a repro). Used by scenarios/repro_*.py;
`catalog()` lists every repro (by its `ROW`, never a hard-coded list) for demo.py and the docs
test, with the tracks that have what it NEEDS.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from harness.context import ScenarioContext
from harness.errors import HarnessError

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
    if skipping_fix():
        ctx.step(f"fix: SKIPPED ({SKIP_FIX_ENV}=1): {text}")
        return False
    ctx.step(f"fix: {text}")
    action()
    return True


def recovered(ctx: ScenarioContext, text: str) -> None:
    ctx.step(f"recovered: {text}")


def skipping_fix() -> bool:
    """Whether this run leaves the fix out (the skip-fix test): probes then must fail."""
    return os.environ.get(SKIP_FIX_ENV) == "1"


def probe(ctx: ScenarioContext, name: str, action: Callable[[], str]) -> str:
    """Run a probe whose harness error is the failure (e.g. `gtc` refused): a failed check
    named `name` with the error as detail, rather than an exception that skips the check."""
    try:
        detail = action()
    except HarnessError as exc:
        ctx.fail(name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    ctx.check(name, True, detail)
    return detail


def row_of(module: ModuleType) -> Row | None:
    """The module's ROW when it is a repro scenario."""
    row = getattr(module, "ROW", None)
    return row if isinstance(row, Row) else None


@dataclass(frozen=True)
class Listed:
    """One repro as `demo.py repro` lists it: its scenario, its row, the tracks it runs on."""

    scenario: str
    row: Row
    tracks: tuple[str, ...]


def catalog() -> list[Listed]:
    """Every scenario module that declares a `ROW`, sorted by name, with the tracks that have
    every capability it NEEDS (harness.runner.tracks_for, the demo's default first)."""
    import scenarios  # the package lists its modules; imported late (it is our parent)
    from harness import runner

    listed: list[Listed] = []
    for name in scenarios.names():
        module = scenarios.load(name)
        row = row_of(module)
        if row is not None:
            listed.append(Listed(name, row, tuple(runner.tracks_for(module))))
    return listed


def scenario_for(name: str) -> str:
    """`k8s-client-missing` (or `repro-k8s-client-missing`) → `repro-k8s-client-missing`."""
    return name if name.startswith(PREFIX) else f"{PREFIX}{name}"
