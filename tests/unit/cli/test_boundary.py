"""The one error boundary: every entry point ends a failure with one JSON line, hint inside."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ValidationError

from greentic.cli import boundary, start
from greentic.cli.bundle import bundle
from greentic.cli.main import deployer, gtc
from greentic.cli.pack import pack
from greentic.errors import KINDS
from tests.support.seeds import seed_manifest, write_declarative

from .oprunner import Op


def last_json_line(stderr: str) -> dict[str, Any]:
    """stderr's last line, which must be its only JSON line."""
    lines = stderr.splitlines()
    assert [ln for ln in lines if ln.startswith("{")] == lines[-1:], stderr
    doc = json.loads(lines[-1])
    assert set(doc) == {"op", "noun", "error"} and doc["error"]["kind"] in KINDS
    return dict(doc)


def invoke(group: click.Command, *args: str, env: dict[str, str] | None = None) -> Any:
    r = CliRunner().invoke(group, list(args), env=env, catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


# -- every entry point, one shape -------------------------------------------------------------
@pytest.mark.parametrize(
    ("group", "args", "noun", "op", "kind"),
    [
        (gtc, [], "", "", "invalid-argument"),
        (gtc, ["--bogus"], "", "", "invalid-argument"),
        (gtc, ["frobnicate"], "frobnicate", "", "invalid-argument"),
        (deployer, ["bundle", "build"], "bundle", "", "invalid-argument"),
        (gtc, ["bundle"], "bundle", "", "invalid-argument"),
        (gtc, ["bundle", "build"], "bundle", "build", "invalid-argument"),
        (gtc, ["bundle", "inspect", "/nonexistent/x.gtbundle"], "bundle", "inspect", "not-found"),
        (bundle, ["push", "/nonexistent/x.gtbundle", "http://h/x"], "bundle", "push", None),
        (gtc, ["pack", "verify", "x"], "pack", "verify", "invalid-argument"),
        (
            pack,
            ["sign", "/nonexistent/p.gtpack", "--key", "/nonexistent/k.pem"],
            "pack",
            "sign",
            None,
        ),
        (gtc, ["start", "--env", "ghost", "--store-root", "/nonexistent"], "start", "start", None),
        (start.cli, ["stop", "--bogus"], "start", "stop", "invalid-argument"),
    ],
)
def test_every_entry_point_fails_with_one_json_line(
    group: click.Command, args: list[str], noun: str, op: str, kind: str | None
) -> None:
    code, out, err = invoke(group, *args)
    assert (code, out) == (1, "")
    doc = last_json_line(err)
    assert (doc["noun"], doc["op"]) == (noun, op)
    assert kind is None or doc["error"]["kind"] == kind
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_usage_error_hint_is_inside_the_json() -> None:
    _, _, err = invoke(gtc, "bundle", "build")
    assert last_json_line(err)["error"] == {
        "kind": "invalid-argument",
        "message": "Missing argument 'SRC'.",
        "hint": "see `gtc bundle build --help`",
    }


def test_greentic_start_main_prints_one_json_line(
    store_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        start.main(["--env", "ghost", "--store-root", str(store_root)])
    out, err = capsys.readouterr()
    assert (exit_.value.code, out) == (1, "")
    error = last_json_line(err)["error"]
    assert error["kind"] == "not-found" and "`ghost`" in error["message"]
    assert "gtc op env create ghost" in error["hint"]


def test_help_still_works_everywhere() -> None:
    for group, args in ((gtc, ["--help"]), (gtc, ["bundle", "-h"]), (start.cli, ["start", "-h"])):
        code, out, err = invoke(group, *args)
        assert (code, err) == (0, "") and "Usage:" in out


# -- bugs: "unexpected" only for them, with the way to report ---------------------------------
def _boom(*_a: object, **_k: object) -> None:
    raise RuntimeError("kaboom")


def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "x.gtbundle"
    path.write_bytes(b"")
    return path


def test_a_bug_is_unexpected_with_a_report_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from greentic.bundle import reader

    monkeypatch.setattr(reader, "inspect", _boom)
    code, _, err = invoke(gtc, "bundle", "inspect", str(a_file(tmp_path)))
    assert code == 1
    assert last_json_line(err)["error"] == {
        "kind": "store",
        "message": "unexpected RuntimeError: kaboom",
        "hint": boundary.BUG_HINT,
    }


def test_greentic_debug_lets_a_bugs_traceback_through(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from greentic.bundle import reader

    monkeypatch.setattr(reader, "inspect", _boom)
    with pytest.raises(RuntimeError, match="kaboom"):
        invoke(gtc, "bundle", "inspect", str(a_file(tmp_path)), env={"GREENTIC_DEBUG": "1"})


def test_ctrl_c_is_exit_130_without_an_error_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from greentic.bundle import reader

    def interrupt(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(reader, "inspect", interrupt)
    code, out, err = invoke(gtc, "bundle", "inspect", str(a_file(tmp_path)))
    assert (code, out, err) == (130, "", "interrupted\n")


# -- classify: user input never reaches "unexpected" ------------------------------------------
class Pack(BaseModel):
    slot: int


class Manifest(BaseModel):
    packs: list[Pack]


def test_an_escaping_validation_error_is_spec_with_the_field_path() -> None:
    with pytest.raises(ValidationError) as info:
        Manifest.model_validate({"packs": [{"slot": 1}, {"slot": "x"}, {}]})
    failure = boundary.classify(info.value)
    assert failure.kind == "spec"
    assert failure.message.startswith("packs[1].slot: Input should be a valid integer")
    assert failure.message.endswith("(and 1 more problem)")
    for noise in ("validation error for", "errors.pydantic.dev", "input_value", "[type="):
        assert noise not in failure.message


def surrogate_error() -> UnicodeEncodeError:
    try:
        "\ud800".encode()
    except UnicodeEncodeError as exc:
        return exc
    raise AssertionError("a lone surrogate encoded")


@pytest.mark.parametrize("exc", [ValueError("embedded null byte"), surrogate_error()])
def test_impossible_text_reaching_the_os_is_invalid_argument(exc: Exception) -> None:
    failure = boundary.classify(exc)
    assert failure.kind == "invalid-argument" and "unexpected" not in failure.message


def test_a_huge_word_is_shortened_in_the_middle() -> None:
    word = "a" * 700 + "b" * 5000 + "/tail.json"
    failure = boundary.Failure("io", f"io error on {word}: File name too long")
    message = failure.error()["message"]
    assert len(message) < 1000
    assert message.startswith("io error on aaa") and message.endswith(
        "tail.json: File name too long"
    )
    path = "/tmp/" + "d" * 250 + "/environment.json"  # a long real path stays whole
    assert boundary.shorten(path) == path


# -- the seeds/000 manifest: bad fields named by path, never pydantic's text ------------------
def apply_manifest(op: Op, tmp_path: Path, manifest: dict[str, Any]) -> dict[str, str]:
    path = write_declarative(tmp_path, manifest)
    return op("env", "apply", "--dry-run", answers=path).error


def test_a_bad_slot_names_the_pack(op: Op, tmp_path: Path) -> None:
    manifest = seed_manifest()
    manifest["packs"][1]["slot"] = "bogus"
    err = apply_manifest(op, tmp_path, manifest)
    assert err["kind"] == "answers-parse"
    assert (
        "k8s.env.json: packs[1].slot: slot `bogus` is not one of deployer, secrets"
        in (err["message"])
    )


@pytest.mark.parametrize(
    ("where", "field"),
    [
        (("packs", 0, "answers_ref"), "packs[0].answers_ref"),
        (("environment", "name"), "environment.name"),
        (("secrets", 0, "from_env"), "secrets[0].from_env"),
        (
            ("bundles", 0, "route_binding", "path_prefixes", 0),
            "bundles[0].route_binding.path_prefixes[0]",
        ),
    ],
)
def test_a_nul_byte_is_invalid_argument_naming_the_field(
    op: Op, tmp_path: Path, where: tuple[Any, ...], field: str
) -> None:
    manifest = seed_manifest()
    node: Any = manifest
    for step in where[:-1]:
        node = node[step]
    node[where[-1]] = "a\x00b"
    err = apply_manifest(op, tmp_path, manifest)
    assert err["kind"] == "invalid-argument"
    assert f"k8s.env.json: {field}: contains a NUL byte" in err["message"]


def test_a_nul_in_an_inline_payload_names_the_key(op: Op) -> None:
    assert op("env", "init").code == 0
    err = op("bundles", "add", "bundle_id=a\x00b").error
    assert err == {
        "kind": "invalid-argument",
        "message": "bundle_id: contains a NUL byte, which no name or path can hold",
        "hint": "remove that character",
    }


@pytest.mark.parametrize("group", [gtc, deployer])
def test_a_nul_in_the_store_root_names_the_flag(group: click.Command) -> None:
    code, _, err = invoke(group, "op", "--store-root", "/tmp/a\x00b", "env", "list")
    assert code == 1
    error = last_json_line(err)["error"]
    assert error["hint"].endswith(" op --help`")
    assert (error["kind"], error["message"]) == (
        "invalid-argument",
        "Invalid value for '--store-root': contains a NUL byte, which no path can hold",
    )
