"""In-memory state for `state.get` / `state.set`: one mapping per (revision, tenant, session).

Each revision gets its own state, as upstream gives each revision its own state store. Scopes
are bounded (least recently used evicted) so a stream of new sessions cannot grow memory
without limit. Process-local and lost on restart; called by the app around each flow run.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

MAX_SCOPES = 16384


class StateStore:
    """Example: `store.scope(("REV", "tenant", "session"))["count"] = 1`."""

    def __init__(self, max_scopes: int = MAX_SCOPES) -> None:
        self.max_scopes = max_scopes
        self._scopes: OrderedDict[tuple[str, ...], dict[str, Any]] = OrderedDict()

    def scope(self, key: tuple[str, ...]) -> dict[str, Any]:
        """The mapping of one scope, created on first use."""
        found = self._scopes.get(key)
        if found is not None:
            self._scopes.move_to_end(key)
            return found
        created: dict[str, Any] = {}
        self._scopes[key] = created
        while len(self._scopes) > self.max_scopes:
            self._scopes.popitem(last=False)
        return created

    def __len__(self) -> int:
        return len(self._scopes)
