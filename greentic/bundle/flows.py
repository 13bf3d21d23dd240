"""Build-time checks of `.ygtc` flow sources: YAML, an `id`, `nodes` a mapping (or absent).

Bundles carry flow sources as text; compiling and running them is `greentic.flow`'s job. This
module only makes sure a pack never ships a flow that cannot even be parsed, and derives the
manifest entry (`id`, `kind` from `type`, `entrypoints`). Called by the builder and reader.
"""

from __future__ import annotations

from typing import Any

import yaml

from greentic.bundle.manifest import FlowEntry, check_id
from greentic.errors import SpecError


def _load_yaml(text: str, *, what: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"{what}: not valid YAML{where}") from None


def _check_flow_id(doc: dict[str, Any], *, what: str) -> None:
    flow_id = doc.get("id")
    if not isinstance(flow_id, str) or not flow_id:
        raise SpecError(f"{what}: missing `id` (a non-empty string)")
    try:
        check_id(flow_id, "flow id")
    except ValueError as exc:
        raise SpecError(f"{what}: {exc}") from None


def _check_nodes(doc: dict[str, Any], *, what: str) -> None:
    nodes = doc.get("nodes")
    if nodes is not None and not isinstance(nodes, dict):
        raise SpecError(f"{what}: `nodes` must be a mapping of node name → node")
    for name, node in (nodes or {}).items():
        if not isinstance(node, dict):
            raise SpecError(f"{what}: node `{name}` must be a mapping `{{<op>: payload}}`")
    kind = doc.get("type", "messaging")
    if not isinstance(kind, str) or not kind:
        raise SpecError(f"{what}: `type` must be a non-empty string")
    start = doc.get("start")
    if start is not None and start not in (nodes or {}):
        raise SpecError(f"{what}: `start` names node `{start}`, which is not in `nodes`")


def parse_flow_source(text: str, *, what: str) -> dict[str, Any]:
    """The flow document of `text`, or a SpecError naming `what` and the rule it breaks."""
    doc = _load_yaml(text, what=what)
    if not isinstance(doc, dict):
        raise SpecError(f"{what}: a flow must be a YAML mapping with `id` and `nodes`")
    _check_flow_id(doc, what=what)
    _check_nodes(doc, what=what)
    return doc


def flow_entry(doc: dict[str, Any]) -> FlowEntry:
    """The manifest entry of a parsed flow (entrypoints: the flow's names, else `default`)."""
    eps = doc.get("entrypoints")
    names = sorted(str(k) for k in eps) if isinstance(eps, dict) and eps else ["default"]
    return FlowEntry(id=doc["id"], kind=doc.get("type", "messaging"), entrypoints=names)


def check_flow(text: str, *, flow_id: str, what: str) -> FlowEntry:
    """Parse `text` and require its `id` to be `flow_id` (the file stem)."""
    doc = parse_flow_source(text, what=what)
    if doc["id"] != flow_id:
        raise SpecError(f"{what}: flow `id` is `{doc['id']}` but the file is named `{flow_id}`")
    return flow_entry(doc)
