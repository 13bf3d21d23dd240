"""The compiled form of a flow: frozen dataclasses the engine walks.

Built by `greentic.flow.compile` from a `.ygtc` source; read by `greentic.flow.engine`.
Node order is the document order (it decides the start node when none is named).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from greentic.flow.template import Template, compile_template


@dataclass(frozen=True)
class Route:
    """One routing rule: go `to` a node (None = finish) when `condition` and `status` hold."""

    to: str | None = None
    condition: Any = None
    status: str | None = None
    holds: Template | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        holds = None if self.condition is None else compile_template(self.condition)
        object.__setattr__(self, "holds", holds)


@dataclass(frozen=True)
class Node:
    """One step: an op name, its payload (a template tree) and its routes (empty = finish)."""

    name: str
    op: str
    payload: Any
    routes: tuple[Route, ...] = ()
    fill: Template = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """The payload's template is compiled once here, not re-parsed on every run."""
        object.__setattr__(self, "fill", compile_template(self.payload))


@dataclass(frozen=True)
class Flow:
    """A compiled flow; `start` is None only for a flow with no nodes (it fails when run)."""

    id: str
    type: str
    nodes: Mapping[str, Node]
    start: str | None
