"""`gtc op env apply-revision <id> <rev>` through the real `op` group, FakeCluster at the seam."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from greentic.cli.op import op
from greentic.deployer.k8s import naming, verbs
from greentic.deployer.k8s.fake import FakeCluster
from greentic.spec.environment import Environment
from tests.unit.deployer.k8s import envs


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    cluster = FakeCluster()
    cluster.add_namespace("gtc-local")  # apply-revision follows a reconcile of the env
    monkeypatch.setattr(verbs, "_connect", lambda ctx: cluster)
    return cluster


def invoke(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        op, ["--store-root", str(root), "env", *args], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def test_applies_one_worker_pair(store_root: Path, fake: FakeCluster) -> None:
    env = envs.m2_env()
    rev = env.revisions[0].revision_id
    envs.save(store_root, env)
    code, out, _ = invoke(store_root, "apply-revision", "local", rev)
    assert code == 0
    doc = json.loads(out)
    assert (doc["op"], doc["noun"]) == ("apply-revision", "env")
    name = naming.worker_name(rev)
    assert doc["result"]["action"] == "applied"
    assert doc["result"]["objects"] == [
        {"kind": "Deployment", "name": name, "action": "created"},
        {"kind": "Service", "name": name, "action": "created"},
    ]
    assert {k.name for k in fake.objects if k.kind != "Namespace"} == {name}


def test_archived_revision_is_pruned(store_root: Path, fake: FakeCluster) -> None:
    env = envs.m2_env()
    rev = env.revisions[0].revision_id
    store = envs.save(store_root, env)
    invoke(store_root, "apply-revision", "local", rev)
    with store.mutate("local", verb="test") as e:
        e.traffic_splits = []
        e.revisions[0].lifecycle = "archived"
    code, out, _ = invoke(store_root, "apply-revision", "local", rev)
    assert code == 0 and json.loads(out)["result"]["action"] == "pruned"
    assert [k.kind for k in fake.objects] == ["Namespace"]


def test_staged_and_unknown_revisions(store_root: Path, fake: FakeCluster) -> None:
    doc = envs.m2_env().to_json_dict()
    doc["revisions"].append(
        envs.revision("local", "perf-smoke", 2, lifecycle="staged").to_json_dict()
    )
    envs.save(store_root, Environment.model_validate(doc))
    code, _, err = invoke(store_root, "apply-revision", "local", envs.rev_id("local", 2))
    assert code == 1 and json.loads(err.splitlines()[0])["error"]["kind"] == "conflict"
    assert "revisions warm" in err
    code, _, err = invoke(store_root, "apply-revision", "local", "01NOPE")
    assert code == 1 and json.loads(err.splitlines()[0])["error"]["kind"] == "not-found"
    assert fake.calls == []


def test_needs_both_ids(store_root: Path, fake: FakeCluster) -> None:
    code, _, err = invoke(store_root, "apply-revision", "local")
    assert code == 1 and json.loads(err.splitlines()[0])["error"]["kind"] == "invalid-argument"
