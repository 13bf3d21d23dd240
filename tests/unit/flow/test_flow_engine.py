"""Running flows: built-in ops, routing, outputs, sub-flows, state and failures."""

from __future__ import annotations

from typing import Any

import pytest

from greentic.flow import engine
from greentic.flow.compiler import compile_flow
from greentic.flow.model import Flow

ECHO = """
id: main
type: messaging
start: reply
nodes:
  reply:
    emit.response: {text: "echo: {{entry.text}}"}
    routing: out
"""


def run(src: str, entry: Any, **kw: Any) -> engine.Outcome:
    return engine.run(compile_flow(src), entry, **kw)


def test_echo_flow_emits_one_reply() -> None:
    assert run(ECHO, {"text": "hi"}).output == [{"text": "echo: hi"}]


def test_both_entry_and_in_input_paths_work() -> None:
    src = "id: m\nnodes:\n  a: {emit.response: {a: '{{entry.text}}', b: '{{in.input.text}}'}}\n"
    entry = {"input": {"text": "hey"}, "text": "hey"}
    assert run(src, entry).output == [{"a": "hey", "b": "hey"}]


def test_empty_flow_fails_with_the_exact_message() -> None:
    with pytest.raises(engine.FlowFailed) as err:
        run("id: main\ntype: messaging\nnodes: {}\n", {})
    assert str(err.value) == "flow main has no start node"


def test_no_emit_returns_last_payload() -> None:
    src = "id: m\nnodes:\n  t: {templating.text: 'hello {{entry.name}}'}\n"
    assert run(src, {"name": "ann"}).output == {"text": "hello ann"}


def test_templating_text_accepts_template_key_and_routes_to_prev() -> None:
    src = """
id: m
nodes:
  t:
    templating.text: {template: "n={{entry.n}}"}
    routing: [{to: r}]
  r:
    emit.response: "{{prev}}"
"""
    assert run(src, {"n": 2}).output == [{"text": "n=2"}]


def test_emit_payload_prefers_input_then_payload() -> None:
    src = """
id: m
nodes:
  a: {emit.response: {input: {x: 1}}, routing: b}
  b: {emit.response: {payload: [1, 2]}, routing: c}
  c: {emit.response: {text: whole}}
"""
    assert run(src, {}).output == [{"x": 1}, [1, 2], {"text": "whole"}]


def test_final_payload_is_appended_and_list_flattened() -> None:
    src = """
id: m
nodes:
  a: {emit.response: {text: first}, routing: b}
  b: {state.set: {key: k, value: [2, null, 3]}}
"""
    assert run(src, {}).output == [{"text": "first"}, 2, 3]


def test_emit_log_goes_to_logs_not_replies() -> None:
    src = (
        "id: m\nnodes:\n  a: {emit.log: 'saw {{entry.text}}', routing: b}\n  b: {emit.response: ok}"
    )
    out = run(src, {"text": "hi"})
    assert out.output == ["ok"]
    assert out.logs == ("saw hi",)


def test_conditions_pick_the_route() -> None:
    src = """
id: m
nodes:
  a:
    templating.text: x
    routing:
      - {to: yes, condition: "{{entry.flag}}"}
      - {to: no}
  yes: {emit.response: Y}
  no: {emit.response: N}
"""
    assert run(src, {"flag": True}).output == ["Y"]
    assert run(src, {"flag": "false"}).output == ["N"]
    assert run(src, {}).output == ["N"]


def test_status_routes_other_than_ok_are_skipped() -> None:
    src = """
id: m
nodes:
  a: {templating.text: x, routing: [{to: err, status: error}, {to: fine, status: ok}]}
  err: {emit.response: E}
  fine: {emit.response: F}
"""
    assert run(src, {}).output == ["F"]


def test_state_get_and_set_use_the_given_mapping() -> None:
    src = """
id: m
nodes:
  get: {state.get: {key: count, default: 0}, routing: say}
  say: {emit.response: "count was {{prev}}", routing: put}
  put: {state.set: {key: count, value: "{{entry.n}}"}}
"""
    state: dict[str, Any] = {}
    assert run(src, {"n": 5}, state=state).output == ["count was 0", 5]
    assert state == {"count": 5}
    assert run(src, {"n": 6}, state=state).output == ["count was 5", 6]


def test_state_ops_need_a_key() -> None:
    with pytest.raises(engine.FlowFailed, match=r"state\.get needs a string `key`"):
        run("id: m\nnodes:\n  a: {state.get: {}}\n", {})


def test_node_outputs_are_in_context() -> None:
    src = """
id: m
nodes:
  a: {templating.text: one, routing: b}
  b: {emit.response: "{{node.a.text}}/{{state.nodes.a.payload.text}}/{{state.input.q}}"}
"""
    assert run(src, {"q": "z"}).output == ["one/one/z"]


def test_flow_call_runs_a_sub_flow_with_its_input() -> None:
    sub = compile_flow("id: sub\nnodes:\n  s: {emit.response: {text: 'sub {{entry.v}}'}}\n")
    src = "id: m\nnodes:\n  c: {flow.call: {flow_id: sub, input: {v: '{{entry.v}}'}}}\n"
    flows: dict[str, Flow] = {"sub": sub}
    assert run(src, {"v": 7}, flows=flows.get).output == [{"text": "sub 7"}]


def test_flow_call_of_unknown_flow_fails() -> None:
    with pytest.raises(engine.FlowFailed, match="flow nope not found"):
        run("id: m\nnodes:\n  c: {flow.call: {flow: nope}}\n", {})


def test_sub_flow_errors_propagate() -> None:
    empty = compile_flow("id: empty\nnodes: {}\n")
    with pytest.raises(engine.FlowFailed, match=r"^flow empty has no start node$"):
        run("id: m\nnodes:\n  c: {flow.call: empty}\n", {}, flows={"empty": empty}.get)


def test_recursive_flow_call_is_bounded() -> None:
    me = compile_flow("id: me\nnodes:\n  c: {flow.call: me}\n")
    with pytest.raises(engine.FlowFailed, match="nested deeper than 8"):
        engine.run(me, {}, flows={"me": me}.get)


def test_routing_loop_is_bounded() -> None:
    src = "id: loop\nnodes:\n  a: {templating.text: x, routing: b}\n  b: {emit.log: y, routing: a}"
    with pytest.raises(engine.FlowFailed, match="flow loop exceeded 50 steps"):
        run(src, {}, max_steps=50)


def test_unknown_component_fails_at_run_time() -> None:
    with pytest.raises(engine.FlowFailed, match=r"component `llm\.chat` is not available"):
        run("id: m\nnodes:\n  a: {llm.chat: {}}\n", {})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (False, False),
        ("", False),
        ("false", False),
        ("0", False),
        (0, False),
        ([], False),
        ("yes", True),
        (1, True),
        ([0], True),
        (True, True),
        ({"a": 1}, True),
    ],
)
def test_truthy(value: Any, expected: bool) -> None:
    assert engine.truthy(value) is expected


def test_finalize_without_egress_is_the_payload() -> None:
    assert engine.finalize([], {"x": 1}) == {"x": 1}
    assert engine.finalize([1], None) == [1]
