"""Start-up trims for the console scripts (#16): imports pydantic would make that we never use.

pydantic looks for plugins (entry point group `pydantic`) when it builds its first model
validator: `pydantic.plugin._loader` imports `importlib.metadata` (email, zipfile, csv: ~15–
20 ms) and scans every installed distribution (~3 ms). Greentic ships no pydantic plugins, so
the console scripts turn discovery off before pydantic is imported. See docs/decisions.md.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterable

DISABLE_VAR = "PYDANTIC_DISABLE_PLUGINS"
ALL_OFF = ("__all__", "1", "true")  # the values pydantic's loader reads as "no plugins"
LOADER = "pydantic.plugin._loader"


def _no_plugins() -> Iterable[object]:
    return ()


def skip_pydantic_plugins() -> None:
    """Set `PYDANTIC_DISABLE_PLUGINS=__all__` (unless set) and stand in for pydantic's loader.

    The variable alone skips the entry-point scan but not the loader's module-level
    `import importlib.metadata`, so while discovery is off entirely the loader is replaced by
    a module whose `get_plugins()` returns no plugins, as pydantic's own does then. A user who
    names single plugins to skip keeps pydantic's discovery. A no-op once pydantic is imported
    (e.g. in a test process): the process then keeps whatever it has.
    """
    if "pydantic" in sys.modules:
        return
    os.environ.setdefault(DISABLE_VAR, "__all__")
    if os.environ[DISABLE_VAR] not in ALL_OFF:
        return
    stub = types.ModuleType(LOADER, "Greentic's stand-in: pydantic plugins are off.")
    stub.get_plugins = _no_plugins  # type: ignore[attr-defined]
    sys.modules.setdefault(LOADER, stub)
