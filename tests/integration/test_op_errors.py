"""Bad input through the real console script: one JSON error line, exit 1, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from op_support import gtc

MANIFEST = {
    "schema": "greentic.env-manifest.v1",
    "environment": {"id": "local"},
    "secrets": [{"path": "t/_/c/token", "from_env": "GTC_TEST_UNSET_VARIABLE"}],
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"GTC_OPERATOR_KEY_PATH": str(tmp_path / "k.pem")}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_unknown_manifest_key_is_named(tmp_path: Path, env: dict[str, str]) -> None:
    doc = dict(MANIFEST, secrets=[], bundels=[])
    m = write(tmp_path, "m.json", json.dumps(doc))
    err = gtc(tmp_path / "S", "env", "apply", "--yes", answers=m, env=env).error
    assert err["kind"] == "answers-parse" and "unknown key `bundels`" in err["message"]


def test_unknown_verb(tmp_path: Path, env: dict[str, str]) -> None:
    err = gtc(tmp_path / "S", "env", "explode", env=env).error
    assert err["kind"] == "invalid-argument" and "explode" in err["message"]


def test_missing_env(tmp_path: Path, env: dict[str, str]) -> None:
    err = gtc(tmp_path / "S", "env", "show", "nowhere", env=env).error
    assert err["kind"] == "not-found" and "nowhere" in err["message"]


def test_non_local_env_without_create(tmp_path: Path, env: dict[str, str]) -> None:
    doc = dict(MANIFEST, environment={"id": "prod"}, secrets=[])
    m = write(tmp_path, "m.json", json.dumps(doc))
    err = gtc(tmp_path / "S", "env", "apply", "--yes", answers=m, env=env).error
    assert err["kind"] == "not-found" and "op env create prod" in err["message"]


def test_weights_not_summing(tmp_path: Path, env: dict[str, str]) -> None:
    s = tmp_path / "S"
    assert gtc(s, "env", "init", env=env).code == 0
    dep = gtc(s, "bundles", "add", "bundle_id=b", env=env).result["deployment_id"]
    rev = gtc(
        s,
        "revisions",
        "stage",
        f"deployment_id={dep}",
        "bundle_source_uri=oci://127.0.0.1:5000/a/b:v1",
        f"bundle_digest=sha256:{'0' * 64}",
        env=env,
    ).result["revision_id"]
    assert gtc(s, "revisions", "warm", rev, env=env).code == 0
    err = gtc(s, "traffic", "set", dep, f"{rev}=60%", env=env).error
    assert err["kind"] == "invalid-argument" and "got 6000" in err["message"]


def test_secret_from_env_unset_without_tty(tmp_path: Path, env: dict[str, str]) -> None:
    m = write(tmp_path, "m.json", json.dumps(MANIFEST))
    err = gtc(tmp_path / "S", "env", "apply", "--yes", answers=m, env=env).error
    assert err["kind"] == "invalid-argument"
    assert "GTC_TEST_UNSET_VARIABLE is unset" in err["message"]
    assert not (tmp_path / "S" / "local").exists()


def test_malformed_json_names_file_and_line(tmp_path: Path, env: dict[str, str]) -> None:
    m = write(tmp_path, "broken.json", '{\n  "schema": "greentic.env-manifest.v1",\n  oops\n}')
    err = gtc(tmp_path / "S", "env", "apply", answers=m, env=env).error
    assert err["kind"] == "answers-parse"
    assert "broken.json" in err["message"] and "line 3" in err["message"]


def test_malformed_yaml_names_file_and_line(tmp_path: Path, env: dict[str, str]) -> None:
    m = write(tmp_path, "broken.yaml", "schema: greentic.env-manifest.v1\nenvironment: [a\n")
    err = gtc(tmp_path / "S", "env", "apply", answers=m, env=env).error
    assert err["kind"] == "answers-parse"
    assert "broken.yaml" in err["message"] and "line 3" in err["message"]


def test_env_id_dot_dot(tmp_path: Path, env: dict[str, str]) -> None:
    err = gtc(tmp_path / "S", "env", "create", "..", "--name", "x", env=env).error
    assert err["kind"] == "invalid-argument" and "`..`" in err["message"]
    m = write(tmp_path, "m.json", json.dumps(dict(MANIFEST, environment={"id": ".."})))
    err = gtc(tmp_path / "S", "env", "apply", answers=m, env=env).error
    assert err["kind"] == "answers-parse" and "`..`" in err["message"]


def test_bad_fields_are_named_by_path_and_end_stderr(tmp_path: Path, env: dict[str, str]) -> None:
    """A bad slot and a NUL byte: the field's path, no pydantic text, the JSON line last."""
    pack = {"slot": "bogus", "kind": "greentic.deployer.k8s@1.0.0", "pack_ref": "builtin"}
    m = write(tmp_path, "m.json", json.dumps(dict(MANIFEST, secrets=[], packs=[pack])))
    run = gtc(tmp_path / "S", "env", "apply", "--dry-run", answers=m, env=env)
    assert run.error["kind"] == "answers-parse"
    assert "m.json: packs[0].slot: slot `bogus` is not one of deployer, " in run.error["message"]
    assert "pydantic" not in run.stderr and run.stderr.splitlines()[-1].startswith("{")

    pack.update(slot="deployer", answers_ref="answers\u0000.json")
    m.write_text(json.dumps(dict(MANIFEST, secrets=[], packs=[pack])))
    run = gtc(tmp_path / "S", "env", "apply", "--dry-run", answers=m, env=env)
    assert run.error["kind"] == "invalid-argument"
    assert "m.json: packs[0].answers_ref: contains a NUL byte" in run.error["message"]
    assert run.error["hint"] and run.stderr.splitlines()[-1].startswith("{")
