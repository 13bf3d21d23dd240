"""Issue #12 items 11–12 through the CLI: one JSON error line with the fix, and the flags.

`env apply --allow-outside` and `env-packs add --allow-outside` lift the confinement of paths
named inside a document; a path typed on the command line is the operator's own choice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.seeds import seed_manifest, write_declarative

from .oprunner import Op

BIND = ("slot=deployer", "kind=greentic.deployer.k8s@1.0.0", "pack_ref=builtin")


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_DEMO_BOT_TOKEN", "tg-token")


def test_env_apply_refuses_an_outside_answers_ref_until_allowed(
    op: Op, tmp_path: Path, token: None
) -> None:
    (tmp_path / "shared-answers.json").write_text(json.dumps({"tunnel": "off"}))
    doc = seed_manifest()
    doc["packs"][0]["answers_ref"] = "../shared-answers.json"
    manifest = write_declarative(tmp_path, doc)
    refused = op("env", "apply", "--yes", answers=manifest).error
    assert refused["kind"] == "invalid-argument"
    assert "packs[] slot `deployer`: answers_ref `../shared-answers.json`" in refused["message"]
    assert "--allow-outside" in refused["hint"]
    done = op("env", "apply", "--yes", "--allow-outside", answers=manifest).result
    assert done["environment_id"] == "local" and done["changed"] > 0


def test_env_packs_add_payload_file_is_confined_until_allowed(op: Op, tmp_path: Path) -> None:
    op("env", "create", "local", "--name", "local")
    (tmp_path / "da.json").write_text(json.dumps({"tunnel": "off"}))
    payload = tmp_path / "cfg" / "bind.json"
    payload.parent.mkdir()
    payload.write_text(
        json.dumps(dict(a.split("=", 1) for a in BIND) | {"answers_ref": "../da.json"})
    )
    refused = op("env-packs", "add", answers=payload).error
    assert refused["kind"] == "invalid-argument" and "outside the directory" in refused["message"]
    assert "--allow-outside to `gtc op env-packs add`" in refused["hint"]
    bound = op("env-packs", "add", "--allow-outside", answers=payload).result
    assert bound["answers_ref"] == "env-packs/deployer/answers.json"


def test_env_packs_add_typed_path_is_the_operators_choice(op: Op, tmp_path: Path) -> None:
    op("env", "create", "local", "--name", "local")
    answers = tmp_path / "elsewhere" / "da.yaml"
    answers.parent.mkdir()
    answers.write_text("tunnel: 'off'\n")
    assert op("env-packs", "add", *BIND, f"answers_ref={answers}").result["changed"] is True


@pytest.mark.timeout(10)
def test_a_fifo_answers_file_is_one_error_line(op: Op, tmp_path: Path) -> None:
    fifo = tmp_path / "m.yaml"
    os.mkfifo(fifo)
    error = op("env", "apply", "--yes", answers=fifo).error
    assert error["kind"] == "answers-parse" and "FIFO" in error["message"]
    assert "regular file" in error["hint"]


def test_a_duplicate_key_in_the_manifest_is_one_error_line(op: Op, tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text("schema: greentic.env-manifest.v1\nenvironment: {id: local}\nschema: x\n")
    error = op("env", "apply", "--yes", answers=manifest).error
    assert error["kind"] == "answers-parse"
    assert "line 3" in error["message"] and "duplicate key `schema`" in error["message"]
