"""Template rules: exact placeholders keep JSON types, missing paths are empty, no re-scan."""

from __future__ import annotations

from greentic.flow import template

CTX = {
    "entry": {"text": "hi", "n": 3, "items": [{"a": 1}, {"a": 2}], "flag": False},
    "in": {"input": {"text": "hi"}},
    "node": {"x": {"list": [1, 2]}},
}


def test_exact_placeholder_keeps_the_json_type() -> None:
    assert template.render_string("{{entry.n}}", CTX) == 3
    assert template.render_string("{{node.x.list}}", CTX) == [1, 2]
    assert template.render_string("{{ entry.items[1] }}", CTX) == {"a": 2}
    assert template.render_string("{{entry.flag}}", CTX) is False


def test_mixed_text_renders_strings_and_json() -> None:
    assert template.render_string("echo: {{in.input.text}}!", CTX) == "echo: hi!"
    assert template.render_string("n={{entry.n}} l={{node.x.list}}", CTX) == "n=3 l=[1,2]"


def test_missing_paths_render_empty() -> None:
    assert template.render_string("{{entry.nope}}", CTX) == ""
    assert template.render_string("[{{entry.items[9].a}}]", CTX) == "[]"
    assert template.render_string("{{entry.text.deeper}}", CTX) == ""


def test_a_placeholder_without_a_path_is_missing_not_the_whole_context() -> None:
    for text in ("{{}}", "{{ }}", "{{.}}", "{{ .. }}", "{{[]}}"):
        assert template.render_string(text, CTX) == "", text
        assert template.render_string(f"a {text} b", CTX) == "a  b", text


def test_index_forms_and_this_prefix() -> None:
    assert template.render_string("{{entry.items.0.a}}", CTX) == 1
    assert template.render_string("{{this.entry.text}}", CTX) == "hi"


def test_triple_braces_render_like_double() -> None:
    assert template.render_string("{{{entry.text}}}", CTX) == "hi"


def test_substituted_text_is_not_rescanned() -> None:
    ctx = {"entry": {"text": "{{entry.secret}}", "secret": "s3cr3t"}}
    assert template.render_string("you said {{entry.text}}", ctx) == "you said {{entry.secret}}"


def test_render_walks_dicts_and_lists_but_not_keys() -> None:
    out = template.render({"{{k}}": ["{{entry.n}}", {"t": "x{{entry.text}}"}], "z": 5}, CTX)
    assert out == {"{{k}}": [3, {"t": "xhi"}], "z": 5}


def test_plain_strings_pass_through() -> None:
    assert template.render_string("no braces", CTX) == "no braces"
    assert template.render_string("{single}", CTX) == "{single}"
