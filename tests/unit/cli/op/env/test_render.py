"""`gtc op env render` through the real `op` group: the exact JSON line and exit code."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from greentic.cli.op import op
from greentic.spec.environment import EnvPackBinding
from tests.unit.deployer.k8s import envs


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, root: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(op, ["--store-root", str(root), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_render_lists_objects(runner: CliRunner, store_root: Path) -> None:
    envs.save(store_root, envs.m2_env())
    code, out, err = invoke(runner, store_root, "env", "render", "local")
    assert (code, err) == (0, "")
    assert out.count("\n") == 1
    doc = json.loads(out)
    assert doc["op"] == "render" and doc["noun"] == "env"
    assert doc["result"]["namespace"] == "gtc-local"
    assert doc["result"]["count"] == 14
    assert doc["result"]["objects"][0] == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "name": "gtc-local",
    }
    assert doc["result"]["objects"][-1]["kind"] == "Service"


def test_render_out_writes_numbered_yaml(
    runner: CliRunner, store_root: Path, tmp_path: Path
) -> None:
    store = envs.save(store_root, envs.webchat_env(), {"tunnel": "cloudflared"})
    sealed = store.paths("local").dev_secrets
    sealed.parent.mkdir(parents=True)
    sealed.write_bytes(b"sealed-dev-store-bytes")
    out_dir = tmp_path / "manifests"
    code, out, _ = invoke(runner, store_root, "env", "render", "local", "--out", str(out_dir))
    assert code == 0
    result = json.loads(out)["result"]
    assert result["count"] == 15
    assert sorted(p.name for p in out_dir.iterdir()) == result["files"]
    assert result["files"][0] == "00-namespace-gtc-local.yaml"
    b64 = base64.b64encode(b"sealed-dev-store-bytes").decode()
    assert b64 not in out
    assert b64 in (out_dir / "12-secret-gtc-dev-secrets.yaml").read_text()


def test_render_inline_payload(runner: CliRunner, store_root: Path) -> None:
    envs.save(store_root, envs.m2_env("prod"))
    code, out, _ = invoke(runner, store_root, "env", "render", "environment_id=prod")
    assert code == 0 and json.loads(out)["result"]["namespace"] == "gtc-prod"


def test_render_unknown_env(runner: CliRunner, store_root: Path) -> None:
    code, out, err = invoke(runner, store_root, "env", "render", "nope")
    assert (code, out) == (1, "")
    doc = json.loads(err.splitlines()[0])
    assert doc["op"] == "render" and doc["noun"] == "env"
    assert doc["error"]["kind"] == "not-found"
    assert "environment `nope` not found" in doc["error"]["message"]


def test_render_without_k8s_binding_names_the_fix(runner: CliRunner, store_root: Path) -> None:
    env = envs.m2_env()
    env.packs = [
        EnvPackBinding(
            slot="deployer", kind="greentic.deployer.local-process@0.1.0", pack_ref="builtin"
        )
    ]
    envs.save(store_root, env)
    code, _, err = invoke(runner, store_root, "env", "render", "local")
    assert code == 1
    error = json.loads(err.splitlines()[0])["error"]
    assert error["kind"] == "conflict"
    assert "op env-packs add slot=deployer kind=greentic.deployer.k8s@1.0.0" in error["message"]


def test_render_bad_answers(runner: CliRunner, store_root: Path) -> None:
    envs.save(store_root, envs.m2_env(), {"router_replicas": 1})
    code, _, err = invoke(runner, store_root, "env", "render", "local")
    assert code == 1
    (line,) = err.splitlines()
    error = json.loads(line)["error"]
    assert error.pop("hint").startswith("fix ")
    assert error == {
        "kind": "conflict",
        "message": "invalid binding answers: router_replicas must be >= 2 (HA requirement), got 1",
    }


def test_render_schema(runner: CliRunner, store_root: Path) -> None:
    code, out, _ = invoke(runner, store_root, "--schema", "env", "render")
    assert code == 0
    assert set(json.loads(out)["result"]["properties"]) == {"environment_id", "out"}
