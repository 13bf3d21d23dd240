"""Compiling .ygtc sources: start-node rules, op keys, routing forms and clear errors."""

from __future__ import annotations

import pytest

from greentic.errors import SpecError
from greentic.flow.compiler import compile_flow
from greentic.flow.model import Route


def test_empty_flow_compiles_with_no_start() -> None:
    flow = compile_flow("id: main\ntype: messaging\nnodes: {}\n")
    assert flow.id == "main"
    assert flow.type == "messaging"
    assert flow.start is None
    assert dict(flow.nodes) == {}


def test_absent_nodes_is_an_empty_flow() -> None:
    assert compile_flow("id: main\n").start is None


def test_start_prefers_named_then_in_then_first() -> None:
    named = "id: f\nstart: b\nnodes:\n  a: {emit.log: x}\n  b: {emit.log: y}\n  in: {emit.log: z}\n"
    assert compile_flow(named).start == "b"
    with_in = "id: f\nnodes:\n  a: {emit.log: x}\n  in: {emit.log: z}\n"
    assert compile_flow(with_in).start == "in"
    first = "id: f\nnodes:\n  zed: {emit.log: x}\n  alpha: {emit.log: z}\n"
    assert compile_flow(first).start == "zed"


def test_node_fields_and_routing_forms() -> None:
    src = """
id: f
nodes:
  a:
    templating.text: "hi {{entry.text}}"
    routing: [{to: b, condition: "{{entry.go}}"}, {out: true}]
  b:
    emit.response: {text: x}
    in_map: {text: y}
    routing: c
  c:
    emit.log: done
    routing: out
"""
    flow = compile_flow(src)
    a, b, c = flow.nodes["a"], flow.nodes["b"], flow.nodes["c"]
    assert a.op == "templating.text"
    assert a.routes == (Route(to="b", condition="{{entry.go}}"), Route(to=None))
    assert b.payload == {"text": "y"}  # in_map replaces the payload
    assert b.routes == (Route(to="c"),)
    assert c.routes == ()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("id: f\nnodes: {a: b: c}\n", "flow: not valid YAML at line 2"),
        ("- a\n", "flow: a flow must be a mapping"),
        ("type: messaging\n", "flow: missing `id`"),
        ("id: f\nnodes: [1]\n", "flow `f`: `nodes` must be a mapping"),
        ("id: f\nstart: x\nnodes:\n  a: {emit.log: 1}\n", "`start` names node `x`"),
        (
            "id: f\nnodes:\n  a: {routing: out}\n",
            "node `a` must have exactly one op key (found none)",
        ),
        ("id: f\nnodes:\n  a: {x.y: 1, z.w: 2}\n", "found `x.y`, `z.w`"),
        ("id: f\nnodes:\n  a: {emit.log: 1, routing: nowhere}\n", "routes to `nowhere`"),
        ("id: f\nnodes:\n  9a: {emit.log: 1}\n", "node name `9a`"),
        ("id: f\nnodes:\n  a: 3\n", "node `a` must be a mapping"),
        ("id: f\nnodes:\n  a: {emit.log: 1, routing: [{go: b}]}\n", "unknown key `go`"),
    ],
)
def test_bad_sources_name_the_rule(source: str, message: str) -> None:
    with pytest.raises(SpecError) as err:
        compile_flow(source)
    assert message in str(err.value)


def test_error_names_the_caller_label() -> None:
    with pytest.raises(SpecError, match=r"^pack p flow main: not valid YAML"):
        compile_flow("id: [", what="pack p flow main")


def test_to_names_a_node_even_when_it_is_called_reply() -> None:
    src = (
        "id: f\nnodes:\n  a: {templating.text: x, routing: [{to: reply}]}\n  reply: {emit.log: y}\n"
    )
    assert compile_flow(src).nodes["a"].routes == (Route(to="reply"),)
    finish = "id: f\nnodes:\n  a: {templating.text: x, routing: [{to: out}, reply]}\n"
    assert compile_flow(finish).nodes["a"].routes == (Route(to=None), Route(to=None))
