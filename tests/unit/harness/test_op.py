"""Gtc: parsing the result/error envelopes and recording every command for replay."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from harness.artifacts import Artifacts
from harness.op import Gtc, OpFailed, operator_env, parse_error, parse_output


def test_parse_error_reads_the_one_json_error_line_and_its_hint() -> None:
    stderr = (
        "plan: 3 steps\n"
        '{"op":"create","noun":"env","error":{"kind":"conflict","message":"exists",'
        '"hint":"use another id"}}\n'
    )
    assert parse_error(stderr) == ("conflict", "exists", "use another id")


def test_parse_error_without_a_hint_or_without_json() -> None:
    stderr = '{"op":"push","noun":"bundle","error":{"kind":"fetch","message":"401"}}\n'
    assert parse_error(stderr) == ("fetch", "401", None)
    assert parse_error("Traceback …") == (None, None, None)


def test_parse_output_takes_the_last_json_line() -> None:
    assert parse_output('progress\n{"op":"add","result":{"deployment_id":"D"}}\n') == {
        "op": "add",
        "result": {"deployment_id": "D"},
    }
    assert parse_output("plain text") == "plain text"


def fake_gtc(tmp_path: Path, script: str) -> str:
    path = tmp_path / "gtc"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_op_returns_the_result_and_records_the_command(tmp_path: Path) -> None:
    binary = fake_gtc(
        tmp_path, """echo '{"op":"add","noun":"bundles","result":{"deployment_id":"D1"}}'\n"""
    )
    artifacts = Artifacts(tmp_path / "a")
    cli = Gtc(tmp_path / "store", env={"PATH": "/usr/bin:/bin"}, artifacts=artifacts, binary=binary)
    assert cli.op("bundles", "add", "bundle_id=x") == {"deployment_id": "D1"}
    recorded = (tmp_path / "a/commands.sh").read_text()
    assert recorded == f"gtc op --store-root {tmp_path / 'store'} bundles add bundle_id=x\n"
    assert json.loads((tmp_path / "a/op.jsonl").read_text())["exit"] == 0


def test_a_failed_op_raises_with_its_kind_message_and_hint(tmp_path: Path) -> None:
    binary = fake_gtc(
        tmp_path,
        """echo '{"op":"stage","noun":"revisions","error":"""
        """{"kind":"not-found","message":"no deployment D","hint":"run bundles add first"}}'"""
        " >&2\nexit 1\n",
    )
    cli = Gtc(tmp_path / "store", env={"PATH": "/usr/bin:/bin"}, binary=binary)
    with pytest.raises(OpFailed) as info:
        cli.op("revisions", "stage", "deployment_id=D")
    assert str(info.value) == (
        "`gtc op revisions stage` failed (not-found): no deployment D\nHint: run bundles add first"
    )
    assert info.value.kind == "not-found"


def test_a_missing_gtc_says_how_to_install_it(tmp_path: Path) -> None:
    cli = Gtc(tmp_path, env={}, binary=str(tmp_path / "nope"))
    with pytest.raises(OpFailed, match="make setup"):
        cli.run("bundle", "inspect", "x")


def test_operator_env_isolates_home_and_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREENTIC_ENV", "prod")
    env = operator_env(tmp_path)
    assert env["HOME"] == str(tmp_path / "operator-home")
    assert env["GTC_OPERATOR_KEY_PATH"].startswith(str(tmp_path))
    assert "GREENTIC_ENV" not in env
