"""One module per scenario (SPEC §9); `demo.py` and pytest both find them here.

A scenario module has `NEEDS` (the `harness.tracks.Capability`s a track must have; the runner
skips it elsewhere with the reason), optional `VARIANTS`, its expectations as data and one
`run(ctx) -> ScenarioResult`. Where tracks differ it asks `ctx.can(...)`, never the track.
Modules starting with `_` are shared helpers, not scenarios. `names()` lists scenarios as
demo verbs (`host-pull`); `load(name)` imports one.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def names() -> list[str]:
    """Every scenario, as its demo verb (`host_pull.py` → `host-pull`), sorted."""
    return sorted(
        m.name.replace("_", "-")
        for m in pkgutil.iter_modules([str(HERE)])
        if not m.name.startswith("_") and not m.ispkg
    )


def load(name: str) -> ModuleType:
    """Import the scenario `name` (`host-pull` or `host_pull`); KeyError when there is none."""
    module_name = name.replace("-", "_")
    if name.replace("_", "-") not in names():
        raise KeyError(name)
    return importlib.import_module(f"{__name__}.{module_name}")


def summary(module: ModuleType) -> str:
    """The first line of the scenario's docstring."""
    return (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
