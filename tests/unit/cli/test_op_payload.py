"""Payload sources: --answers (JSON/YAML with file+line errors), key=value pairs, flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import collect, keyword_payload, load_answers, parse_inline, validate
from greentic.deployer.bundles import BundleAddPayload
from greentic.errors import AnswersParseError, InvalidArgument, IoError


def test_inline_values_nest_on_dots_and_decode_json_containers() -> None:
    got = parse_inline(
        ("bundle_id=42", 'route_binding.path_prefixes=["/"]', "route_binding.hosts=[]", "x=true")
    )
    assert got == {
        "bundle_id": "42",
        "route_binding": {"path_prefixes": ["/"], "hosts": []},
        "x": "true",
    }


@pytest.mark.parametrize(
    "pairs",
    [("noequals",), ("=v",), ("a=1", "a=2"), ("a=1", "a.b=2"), ("a=[1,",), ("bad key=1",)],
)
def test_bad_inline_pairs_are_invalid_arguments(pairs: tuple[str, ...]) -> None:
    with pytest.raises(InvalidArgument):
        parse_inline(pairs)


def test_exactly_one_source(tmp_path: Path) -> None:
    answers = tmp_path / "a.json"
    answers.write_text('{"bundle_id": "b"}')
    with_file = OpContext(answers=answers)
    assert collect(with_file, (), {"x": None, "y": False, "z": ()}) == {"bundle_id": "b"}
    with pytest.raises(InvalidArgument, match="mutually exclusive"):
        collect(with_file, ("a=1",), {})
    with pytest.raises(InvalidArgument, match="mutually exclusive"):
        collect(with_file, (), {"bundle_id": "b"})
    with pytest.raises(InvalidArgument, match="mutually exclusive"):
        collect(OpContext(), ("a=1",), {"bundle_id": "b"})
    assert collect(OpContext(), (), {"hosts": ("h",), "n": None}) == {"hosts": ["h"]}


def test_json_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "a.json"
    bad.write_text('{\n  "a": 1,\n  oops\n}\n')
    with pytest.raises(AnswersParseError, match=r"a\.json at line 3, column 3"):
        load_answers(bad)


def test_yaml_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "a.yaml"
    bad.write_text("a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(AnswersParseError, match=r"a\.yaml at line \d+, column \d+"):
        load_answers(bad)


def test_unknown_extension_tries_json_then_yaml(tmp_path: Path) -> None:
    f = tmp_path / "answers.txt"
    f.write_text("bundle_id: b\n")
    assert load_answers(f) == {"bundle_id": "b"}


def test_non_mapping_and_missing_files(tmp_path: Path) -> None:
    f = tmp_path / "list.json"
    f.write_text("[1, 2]")
    with pytest.raises(AnswersParseError, match="object"):
        load_answers(f)
    with pytest.raises(IoError, match="no such file"):
        load_answers(tmp_path / "missing.json")


def test_validate_maps_errors_by_source(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="unknown key `bogus`"):
        validate(OpContext(), BundleAddPayload, {"bundle_id": "b", "bogus": 1})
    f = tmp_path / "a.json"
    with pytest.raises(AnswersParseError, match=r"a\.json: bundle_id: required"):
        validate(OpContext(answers=f), BundleAddPayload, {})


def test_keyword_payload_refuses_positional_words_by_verb() -> None:
    got = keyword_payload(OpContext(), "bundles add", BundleAddPayload, ("bundle_id=b",), {})
    assert got.bundle_id == "b"
    with pytest.raises(
        InvalidArgument, match=r"^bundles add takes key=value pairs or flags, not `x y`"
    ):
        keyword_payload(OpContext(), "bundles add", BundleAddPayload, ("x", "bundle_id=b", "y"), {})
