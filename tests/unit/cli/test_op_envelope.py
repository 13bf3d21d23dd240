"""The envelope contract (SPEC §4): one JSON line out, one JSON error line + exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from greentic.cli import lazy
from greentic.cli.boundary import BUG_HINT
from greentic.cli.main import gtc
from greentic.cli.op import op
from greentic.cli.op import op as op_group

from .oprunner import ENV_PAYLOAD_VERBS, Op


def test_success_is_one_compact_line(op: Op) -> None:
    out = op("env", "list")
    assert out.code == 0 and out.stderr == ""
    assert out.stdout == json.dumps(out.doc, separators=(",", ":")) + "\n"
    assert list(out.doc) == ["op", "noun", "result"]
    assert (out.doc["op"], out.doc["noun"]) == ("list", "env")


def test_greentic_error_is_one_line_on_stderr(op: Op) -> None:
    out = op("env", "show", "nope")
    assert out.error["kind"] == "not-found"
    assert "nope" in out.error["message"]
    assert (out.doc["op"], out.doc["noun"]) == ("show", "env")
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("args", "noun", "verb"),
    [
        (["env", "frobnicate"], "env", "frobnicate"),
        (["frobnicate", "x"], "frobnicate", ""),
        (["env", "list", "--bogus"], "env", "list"),
        (["env"], "env", ""),
        (["messaging", "endpoint", "nope"], "messaging.endpoint", "nope"),
    ],
)
def test_usage_errors_become_invalid_argument(
    op: Op, args: list[str], noun: str, verb: str
) -> None:
    out = op(*args)
    assert out.error["kind"] == "invalid-argument"
    assert (out.doc["noun"], out.doc["op"]) == (noun, verb)
    assert "--help" in out.hint


def test_bad_global_flag_is_one_json_line(store_root: Path) -> None:
    r = CliRunner().invoke(gtc, ["op", "--nope", "env", "list"], catch_exceptions=False)
    assert r.exit_code == 1
    (line,) = r.stderr.splitlines()
    doc = json.loads(line)
    assert doc["error"]["kind"] == "invalid-argument" and "--nope" in doc["error"]["message"]


def test_deploy_uses_upstream_labels(op: Op) -> None:
    out = op("deploy", "bundle_id=x")
    assert (out.doc["noun"], out.doc["op"]) == ("deploy", "run")


def test_messaging_endpoint_label(op: Op) -> None:
    out = op("messaging", "endpoint", "add", "name=x", "provider_type=webchat")
    assert out.doc["noun"] == "messaging.endpoint" and out.doc["op"] == "add"


def test_missing_module_is_not_yet_implemented(monkeypatch: pytest.MonkeyPatch, op: Op) -> None:
    assert isinstance(op_group, lazy.LazyGroup)
    monkeypatch.setitem(
        op_group.lazy, "ghost", lazy.Lazy("greentic.cli.op.does_not_exist:ghost", "not here")
    )
    out = op("ghost", "verb")
    assert out.error["kind"] == "not-yet-implemented"
    assert "greentic.cli.op.does_not_exist" in out.error["message"]


def test_missing_dependency_inside_a_module_is_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the module itself missing becomes the stub; a broken import inside still raises."""
    (tmp_path / "gtc_broken_verb.py").write_text("import gtc_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="gtc_no_such_dependency"):
        lazy.load("broken", "gtc_broken_verb:command")
    stub = lazy.load("absent", "gtc_no_such_module_at_all:command")
    assert stub.name == "absent"


def test_unexpected_exception_gets_an_envelope_and_debug_hint(
    monkeypatch: pytest.MonkeyPatch, op: Op
) -> None:
    from greentic.deployer import env

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(env, "list_envs", boom)
    out = op("env", "list")
    assert out.error == {
        "kind": "store",
        "message": "unexpected RuntimeError: kaboom",
        "hint": BUG_HINT,
    }
    assert "--debug" in out.hint and "report it" in out.hint


def test_debug_lets_the_traceback_through(
    monkeypatch: pytest.MonkeyPatch, store_root: Path
) -> None:
    from greentic.deployer import env

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(env, "list_envs", boom)
    with pytest.raises(RuntimeError, match="kaboom"):
        CliRunner().invoke(
            op, ["--store-root", str(store_root), "--debug", "env", "list"], catch_exceptions=False
        )


VERBS_WITH_PAYLOAD = [("env", "create"), ("env", "init"), ("env", "apply"), *ENV_PAYLOAD_VERBS]


@pytest.mark.parametrize("words", VERBS_WITH_PAYLOAD)
def test_schema_prints_the_input_schema_and_touches_nothing(
    words: tuple[str, ...], store_root: Path
) -> None:
    r = CliRunner().invoke(
        gtc, ["op", "--store-root", str(store_root), "--schema", *words], catch_exceptions=False
    )
    assert r.exit_code == 0, r.stderr
    schema = json.loads(r.stdout)["result"]
    assert schema["type"] == "object" and "properties" in schema
    assert list(store_root.iterdir()) == []


def test_traffic_schema_names_the_entry_fields(op: Op) -> None:
    r = CliRunner().invoke(gtc, ["op", "--schema", "traffic", "set"], catch_exceptions=False)
    text = r.stdout
    for field in ("environment_id", "deployment_id", "entries", "weight_bps", "weight_percent"):
        assert field in text
