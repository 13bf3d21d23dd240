"""What the `op` group's global flags hand to every verb: store root, answers file, modes.

Built once by the `op` callback and passed to verbs as the click `obj`. `store()` imports the
store (and pydantic) only when a verb actually needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from greentic.store.envstore import Store


@dataclass(frozen=True)
class OpContext:
    """Global `op` flags. Example: `OpContext(store_root=tmp, answers=None, schema=False,
    debug=False).store().load("local")`."""

    store_root: Path | None = None
    answers: Path | None = None
    schema: bool = False
    debug: bool = False

    def store(self) -> Store:
        """The store at `--store-root`, `$GREENTIC_STORE_ROOT` or `~/.greentic/environments`."""
        from greentic.store.envstore import Store

        return Store.at(self.store_root)
