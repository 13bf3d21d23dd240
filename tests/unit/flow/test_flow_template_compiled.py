"""Compiled templates (built once at flow compile time) render exactly as `render` does."""

from __future__ import annotations

from typing import Any

import pytest

from greentic.flow.model import Node, Route
from greentic.flow.template import compile_template, render

CONTEXT: dict[str, Any] = {
    "in": {"input": {"text": "hi {{in.input.text}}", "n": [1, {"a": 2}]}},
    "node": {"x": None},
    "prev": {"text": "p"},
}


@pytest.mark.parametrize(
    "template",
    [
        "plain",
        "{{in.input.text}}",
        "{{ in.input.n[1].a }}",
        "{{in.input.n.0}}",
        "{{{prev.text}}}",
        "a {{in.input.text}} b {{in.input.n}} c {{missing.path}} d {{node.x}}",
        "{{}}",
        "{{.}}",
        "{{this.prev.text}}",
        "{{a}}{{b",
        {"k": ["{{in.input.n[1]}}", 3, None, True, "x{{prev.text}}y"], "e": {}},
        [],
        7,
        None,
    ],
)
def test_compiled_template_renders_like_render(template: Any) -> None:
    assert compile_template(template)(CONTEXT) == render(template, CONTEXT)


def test_substituted_text_is_never_rescanned() -> None:
    assert compile_template("say {{in.input.text}}")(CONTEXT) == "say hi {{in.input.text}}"


def test_each_run_gets_its_own_containers() -> None:
    fill = compile_template({"items": [{"a": "{{prev.text}}"}]})
    first = fill(CONTEXT)
    first["items"][0]["a"] = "mutated"
    assert fill(CONTEXT) == {"items": [{"a": "p"}]}


def test_nodes_and_routes_carry_their_compiled_template() -> None:
    node = Node(name="n", op="emit.response", payload={"text": "{{prev.text}}"})
    route = Route(to="x", condition="{{prev.text}}")
    assert node.fill(CONTEXT) == {"text": "p"}
    assert route.holds is not None and route.holds(CONTEXT) == "p"
    assert Route(to="x").holds is None
    assert node == Node(name="n", op="emit.response", payload={"text": "{{prev.text}}"})
