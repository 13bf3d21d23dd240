"""Compile a `.ygtc` flow source (YAML) into a `Flow` (SPEC §5, reference bundle §3.1).

A node is `{<op>: payload, routing?, …reserved siblings}` with exactly one op key; `in_map`,
when present, replaces the payload. Start = `start`, else node `in`, else the first node; a
flow with no nodes compiles (start None) and fails only when run. Called at activation.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import yaml

from greentic.errors import SpecError
from greentic.flow.model import Flow, Node, Route

NODE_NAME_RE = re.compile(r"^[A-Za-z_][\w-]*$")
RESERVED = frozenset(
    {
        "routing",
        "telemetry",
        "output",
        "in_map",
        "out_map",
        "err_map",
        "retry",
        "timeout",
        "when",
        "annotations",
        "meta",
        "operation",
    }
)
FINISH = frozenset({"out", "reply"})

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compile_flow(source: str, *, what: str = "flow") -> Flow:
    """Parse and check `source`; a SpecError names `what` and the first rule broken."""
    try:
        doc = yaml.load(source, Loader=_Loader)  # CSafeLoader/SafeLoader only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"{what}: not valid YAML{where}") from None
    return compile_doc(doc, what=what)


def compile_doc(doc: Any, *, what: str = "flow") -> Flow:
    """Compile an already-parsed flow document."""
    if not isinstance(doc, dict):
        raise SpecError(f"{what}: a flow must be a mapping with `id`, `type` and `nodes`")
    flow_id = doc.get("id")
    if not isinstance(flow_id, str) or not flow_id:
        raise SpecError(f"{what}: missing `id` (a non-empty string)")
    what = f"{what} `{flow_id}`"
    kind = doc.get("type", "messaging")
    if not isinstance(kind, str) or not kind:
        raise SpecError(f"{what}: `type` must be a non-empty string")
    raw_nodes = doc.get("nodes") or {}
    if not isinstance(raw_nodes, dict):
        raise SpecError(f"{what}: `nodes` must be a mapping of node name → node")
    nodes = {str(name): _node(str(name), body, what) for name, body in raw_nodes.items()}
    nodes = {name: _resolve_targets(node, nodes, what) for name, node in nodes.items()}
    return Flow(id=flow_id, type=kind, nodes=nodes, start=_start(doc.get("start"), nodes, what))


def _start(named: Any, nodes: dict[str, Node], what: str) -> str | None:
    if named is not None:
        if named not in nodes:
            raise SpecError(f"{what}: `start` names node `{named}`, which is not in `nodes`")
        return str(named)
    if "in" in nodes:
        return "in"
    return next(iter(nodes), None)


def _resolve_targets(node: Node, nodes: dict[str, Node], what: str) -> Node:
    """`to: X` names node X; `out`/`reply` finish unless a node has that name."""
    routes: list[Route] = []
    for route in node.routes:
        to = route.to
        if to is not None and to not in nodes:
            if to not in FINISH:
                raise SpecError(f"{what}: node `{node.name}` routes to `{to}`, which is not a node")
            route = replace(route, to=None)
        routes.append(route)
    return replace(node, routes=tuple(routes))


def _node(name: str, body: Any, what: str) -> Node:
    if not NODE_NAME_RE.match(name):
        raise SpecError(f"{what}: node name `{name}` must match {NODE_NAME_RE.pattern}")
    if not isinstance(body, dict):
        raise SpecError(f"{what}: node `{name}` must be a mapping `{{<op>: payload}}`")
    ops = [k for k in body if k not in RESERVED]
    if len(ops) != 1:
        found = ", ".join(f"`{k}`" for k in ops) or "none"
        raise SpecError(f"{what}: node `{name}` must have exactly one op key (found {found})")
    op = str(ops[0])
    payload = body["in_map"] if "in_map" in body else body[op]
    return Node(name=name, op=op, payload=payload, routes=_routes(body.get("routing"), name, what))


def _routes(raw: Any, name: str, what: str) -> tuple[Route, ...]:
    """`out`/`reply` (finish), a node name, or a list of `{to?, out?, reply?, status?, ...}`."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        return () if raw in FINISH else (Route(to=raw),)
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise SpecError(f"{what}: node `{name}` has a `routing` that is not a string or a list")
    routes: list[Route] = []
    for item in raw:
        if isinstance(item, str):
            routes.append(Route(to=item))
            continue
        if not isinstance(item, dict):
            raise SpecError(f"{what}: node `{name}` has a route that is not a mapping")
        unknown = set(item) - {"to", "out", "reply", "status", "condition"}
        if unknown:
            raise SpecError(f"{what}: node `{name}` route has unknown key `{sorted(unknown)[0]}`")
        to = item.get("to")
        status = item.get("status")
        routes.append(
            Route(
                to=None if to is None else str(to),
                condition=item.get("condition"),
                status=None if status is None else str(status),
            )
        )
    return tuple(routes)
