"""Run a compiled flow with the built-in ops (SPEC §5, reference bundle §3.3); called per request.

Per node: render the payload against `{entry, in, prev, node, state}`, run the op, follow the
first route whose condition holds (none = finish). Ops: `emit.response` (a reply item),
`emit.log` (a log item), `templating.text`, `state.get/set`, `flow.call`. Output: emitted items
plus the last payload (lists flattened, null skipped), or the last payload alone. Steps are
bounded, so a routing loop fails instead of hanging.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, NamedTuple

from greentic.flow.model import Flow, Node
from greentic.flow.template import to_text

MAX_STEPS = 1000
MAX_DEPTH = 8
OK = "ok"

FlowResolver = Callable[[str], Flow | None]


class FlowFailed(Exception):
    """Raised when a flow cannot finish; `str()` is the error the failure reply carries."""


class Outcome(NamedTuple):
    """What a run produced: the output (reply items) and the `emit.log` items."""

    output: Any
    logs: tuple[Any, ...] = ()


def _no_flows(_flow_id: str) -> Flow | None:
    return None


def run(
    flow: Flow,
    entry: Any,
    *,
    flows: FlowResolver = _no_flows,
    state: MutableMapping[str, Any] | None = None,
    max_steps: int = MAX_STEPS,
) -> Outcome:
    """Run `flow` on `entry`; `flows` resolves `flow.call` targets, `state` backs state.get/set."""
    runner = _Runner(flows, {} if state is None else state, max_steps)
    output = runner.flow(flow, entry, depth=0)
    return Outcome(output=output, logs=tuple(runner.logs))


def emitted(mapping: Any) -> Any:
    """The item an emit op pushes: `input`, else `payload`, else the whole mapping."""
    if isinstance(mapping, dict):
        if "input" in mapping:
            return mapping["input"]
        if "payload" in mapping:
            return mapping["payload"]
    return mapping


def truthy(value: Any) -> bool:
    """Whether a rendered route condition holds (`false`, `0`, empty and null do not)."""
    if value is None or value is False:
        return False
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "null")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, list | dict):
        return bool(value)
    return True


def finalize(egress: list[Any], final: Any) -> Any:
    """Emitted items plus the final payload (flattened, null skipped); else the payload."""
    if not egress:
        return final
    out = list(egress)
    if isinstance(final, list):
        out.extend(item for item in final if item is not None)
    elif final is not None:
        out.append(final)
    return out


class _Runner:
    """One request's execution: shared step budget, state mapping and log sink."""

    def __init__(
        self, flows: FlowResolver, state: MutableMapping[str, Any], max_steps: int
    ) -> None:
        self.flows = flows
        self.state = state
        self.steps_left = max_steps
        self.max_steps = max_steps
        self.logs: list[Any] = []

    def flow(self, flow: Flow, entry: Any, *, depth: int) -> Any:
        if flow.start is None:
            raise FlowFailed(f"flow {flow.id} has no start node")
        nodes_out: dict[str, Any] = {}
        records: dict[str, Any] = {}
        context: dict[str, Any] = {
            "entry": entry,
            "in": entry,
            "prev": None,
            "node": nodes_out,
            "state": {"input": entry, "nodes": records},
        }
        egress: list[Any] = []
        current: str | None = flow.start
        last: Any = None
        while current is not None:
            if self.steps_left <= 0:
                raise FlowFailed(
                    f"flow {flow.id} exceeded {self.max_steps} steps; check its routing for a loop"
                )
            self.steps_left -= 1
            node = flow.nodes.get(current)
            if node is None:
                raise FlowFailed(f"node {current} not found")
            mapping = node.fill(context)
            last = self.op(flow, node, mapping, egress, depth=depth)
            nodes_out[node.name] = last
            records[node.name] = {"ok": True, "payload": last, "meta": {}}
            context["prev"] = last
            current = self.next(node, context)
        return finalize(egress, last)

    def op(self, flow: Flow, node: Node, mapping: Any, egress: list[Any], *, depth: int) -> Any:
        op = node.op
        if op == "emit.response":
            egress.append(emitted(mapping))
            return None
        if op == "emit.log":
            self.logs.append(emitted(mapping))
            return None
        if op == "templating.text":
            return {"text": _template_text(mapping)}
        if op == "state.get":
            key = _key(mapping, flow, node)
            default = mapping.get("default") if isinstance(mapping, dict) else None
            return self.state.get(key, default)
        if op == "state.set":
            key = _key(mapping, flow, node)
            value = mapping.get("value") if isinstance(mapping, dict) else None
            self.state[key] = value
            return value
        if op == "flow.call":
            return self.call(flow, node, mapping, depth=depth)
        raise FlowFailed(
            f"node {node.name} of flow {flow.id}: component `{op}` is not available "
            "(this runtime runs the built-in ops only)"
        )

    def call(self, flow: Flow, node: Node, mapping: Any, *, depth: int) -> Any:
        target_id = None
        sub_entry: Any = None
        if isinstance(mapping, dict):
            target_id = mapping.get("flow_id", mapping.get("flow"))
            sub_entry = mapping.get("input")
        elif isinstance(mapping, str):
            target_id = mapping
        if not isinstance(target_id, str) or not target_id:
            raise FlowFailed(f"node {node.name} of flow {flow.id}: flow.call needs `flow_id`")
        if depth + 1 > MAX_DEPTH:
            raise FlowFailed(f"flow.call nested deeper than {MAX_DEPTH} (at flow {target_id})")
        target = self.flows(target_id)
        if target is None:
            raise FlowFailed(f"flow {target_id} not found (called from node {node.name})")
        return self.flow(target, sub_entry, depth=depth + 1)

    @staticmethod
    def next(node: Node, context: Mapping[str, Any]) -> str | None:
        for route in node.routes:
            if route.status is not None and route.status != OK:
                continue
            if route.holds is not None and not truthy(route.holds(context)):
                continue
            return route.to
        return None


def _template_text(mapping: Any) -> str:
    """templating.text: the (already rendered) template as a string."""
    if isinstance(mapping, dict):
        for key in ("template", "text"):
            if key in mapping:
                mapping = mapping[key]
                break
    if mapping is None:
        return ""
    if isinstance(mapping, str):
        return mapping
    return to_text(mapping)


def _key(mapping: Any, flow: Flow, node: Node) -> str:
    key = mapping.get("key") if isinstance(mapping, dict) else mapping
    if not isinstance(key, str) or not key:
        raise FlowFailed(f"node {node.name} of flow {flow.id}: {node.op} needs a string `key`")
    return key
