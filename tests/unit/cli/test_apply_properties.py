"""Property: a mutated seed manifest pair never gets past the error boundary as anything but one
clear JSON error line — no "unexpected", no pydantic boilerplate, no traceback.

Both documents of seeds/000 (`k8s.env.json` and its `deployer-answers.json`, built by
tests/support/seeds.py) get 1-4 mutations — wrong types, NUL bytes, lone surrogates, huge
strings, unknown keys and slots, deleted keys, duplicated list items — and go through
`gtc op --answers F env apply --dry-run` and a plain `env apply --yes` into a fresh store,
in-process with click's runner.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greentic.cli.main import gtc
from greentic.errors import KINDS
from tests.support.seeds import DEPLOYER_ANSWERS, seed_manifest, write_declarative

Loc = tuple[int | str, ...]
SLOTS = ["deployer", "secrets", "telemetry", "sessions", "state", "revocation", "messaging"]
PYDANTIC_NOISE = ("errors.pydantic.dev", "validation error for", "input_value=", "[type=")

strange_strings = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            ".",
            "..",
            "/",
            "a/../../b",
            "a\x00b",
            "\x00",
            "\ud800",
            "x" * 5000,
            "bogus-slot",
            "sha256:" + "0" * 64,
            "sha256:xyz",
            "oci://127.0.0.1:1/x:y",
            "http://[::1",
            "t/_/c/n",
            " ",
            "\n",
            "\u2028",
            "é",
            "-1",
            "true",
        ]
    ),
    st.text(max_size=4).map(lambda s: f"{s}\x00{s}"),
    st.text(min_size=1, max_size=8).map(lambda s: s * 2000),
)
wrong_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.text(max_size=5), max_size=2),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    strange_strings,
)
unknown_keys = st.one_of(
    st.sampled_from(["x", "bundels", "value", "answers", "links", "slot", "\x00", "\ud800"]),
    st.text(max_size=10),
)


def locations(node: Any, loc: Loc = ()) -> Iterator[Loc]:
    """Every node's path, the root (loc `()`) included."""
    yield loc
    if isinstance(node, dict):
        for key, value in node.items():
            yield from locations(value, (*loc, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from locations(value, (*loc, index))


def at(doc: Any, loc: Loc) -> Any:
    for part in loc:
        doc = doc[part]
    return doc


def replaced(doc: Any, loc: Loc, value: Any) -> Any:
    if not loc:
        return value
    at(doc, loc[:-1])[loc[-1]] = value
    return doc


@st.composite
def mutated(draw: st.DrawFn, original: Any, max_mutations: int) -> Any:
    doc = copy.deepcopy(original)
    for _ in range(draw(st.integers(0, max_mutations))):
        loc = draw(st.sampled_from(list(locations(doc))))
        node = at(doc, loc)
        how = draw(st.sampled_from(["type", "string", "delete", "key", "duplicate", "slot"]))
        if how == "type":
            doc = replaced(doc, loc, draw(wrong_values))
        elif how == "string":
            doc = replaced(doc, loc, draw(strange_strings))
        elif how == "delete" and loc:
            del at(doc, loc[:-1])[loc[-1]]
        elif how == "key" and isinstance(node, dict):
            node[draw(unknown_keys)] = draw(wrong_values)
        elif how == "duplicate" and isinstance(node, list) and node:
            node.append(copy.deepcopy(node[draw(st.integers(0, len(node) - 1))]))
        elif how == "slot" and isinstance(doc, dict) and isinstance(doc.get("packs"), list):
            for pack in doc["packs"]:
                if isinstance(pack, dict):
                    pack["slot"] = draw(st.one_of(st.sampled_from(SLOTS), strange_strings))
                    break
    return doc


def assert_one_clear_outcome(code: int, out: str, err: str) -> None:
    assert code in (0, 1), (code, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    if code == 0:
        (line,) = out.splitlines()
        assert set(json.loads(line)) == {"op", "noun", "result"}
        return
    assert out == ""
    lines = err.splitlines()
    assert lines, "exit 1 with nothing on stderr"
    assert [ln for ln in lines if ln.startswith("{")] == [lines[-1]], err  # the last line only
    doc = json.loads(lines[-1])
    assert set(doc) == {"op", "noun", "error"} and (doc["noun"], doc["op"]) == ("env", "apply")
    error = doc["error"]
    assert {"kind", "message"} <= set(error) <= {"kind", "message", "hint"}, error
    assert error["kind"] in KINDS, error
    assert error["message"] and "unexpected" not in error["message"], error
    for noise in PYDANTIC_NOISE:
        assert noise not in error["message"], error


def apply(answers: Path, store: Path, *flags: str) -> tuple[int, str, str]:
    args = ["op", "--store-root", str(store), "--answers", str(answers), "env", "apply", *flags]
    env = {"TELEGRAM_DEMO_BOT_TOKEN": "tok-1234"}
    r = CliRunner().invoke(gtc, args, env=env, catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    manifest=mutated(seed_manifest(), max_mutations=3),
    answers=mutated(DEPLOYER_ANSWERS, max_mutations=1),
)
def test_mutated_seed_manifests_fail_clearly(
    manifest: Any, answers: Any, operator_key: Path
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_declarative(Path(tmp), manifest)  # JSON with ensure_ascii: `\ud800` stays
        (path.parent / "deployer-answers.json").write_text(json.dumps(answers))
        assert_one_clear_outcome(*apply(path, Path(tmp) / "dry", "--dry-run"))
        assert_one_clear_outcome(*apply(path, Path(tmp) / "store", "--yes"))


def test_the_unmutated_pair_applies(operator_key: Path) -> None:
    """The property's baseline: without mutations both runs succeed."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_declarative(Path(tmp), seed_manifest())
        for store, flag in (("dry", "--dry-run"), ("store", "--yes")):
            code, out, err = apply(path, Path(tmp) / store, flag)
            assert code == 0, err
            assert_one_clear_outcome(code, out, err)
