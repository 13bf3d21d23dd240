from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from greentic.deployer.k8s import naming, verbs
from greentic.deployer.k8s.fake import FakeCluster
from greentic.errors import Conflict, NotFound
from greentic.spec.environment import Environment

from . import envs


class Connector:
    def __init__(self) -> None:
        self.cluster = FakeCluster()
        self.contexts: list[str | None] = []

    def __call__(self, context: str | None) -> FakeCluster:
        self.contexts.append(context)
        return self.cluster


def test_render_env_lists_objects(store_root: Path) -> None:
    result = verbs.render_env(envs.save(store_root, envs.m2_env()), "local")
    assert result["namespace"] == "gtc-local" and result["count"] == 14
    assert result["objects"][0] == {"apiVersion": "v1", "kind": "Namespace", "name": "gtc-local"}
    assert "out" not in result


def test_render_env_out_dir(store_root: Path, tmp_path: Path) -> None:
    store = envs.save(store_root, envs.webchat_env())
    result = verbs.render_env(store, "local", out=tmp_path / "manifests")
    assert result["count"] == 15 and len(result["files"]) == 15
    assert result["files"][0] == "00-namespace-gtc-local.yaml"
    doc = yaml.safe_load((tmp_path / "manifests" / result["files"][1]).read_text())
    assert doc["data"]["environment.json"] == store.paths("local").environment.read_text()


def test_reconcile_twice_then_archive(store_root: Path) -> None:
    store = envs.save(store_root, envs.m2_env())
    connect = Connector()
    first = verbs.reconcile_env(store, "local", connect=connect)
    assert (first["applied"], first["pruned"], first["changed"]) == (14, 0, 14)
    second = verbs.reconcile_env(store, "local", connect=connect)
    assert (second["applied"], second["pruned"], second["changed"]) == (14, 0, 0)
    with store.mutate("local", verb="test") as env:
        env.traffic_splits = []
        env.revisions[0].lifecycle = "archived"
    third = verbs.reconcile_env(store, "local", connect=connect)
    assert (third["applied"], third["pruned"]) == (12, 2)
    assert len(connect.cluster.objects) == 12


def test_context_flag_beats_answer(store_root: Path) -> None:
    store = envs.save(store_root, envs.m2_env(), {"kubeconfig_context": "from-answer"})
    connect = Connector()
    verbs.reconcile_env(store, "local", connect=connect)
    verbs.reconcile_env(store, "local", context="from-flag", connect=connect)
    assert connect.contexts == ["from-answer", "from-flag"]
    bare = envs.save(store_root / "b", envs.m2_env())
    verbs.reconcile_env(bare, "local", connect=connect)
    assert connect.contexts[-1] is None


def test_apply_revision_pair_then_archive(store_root: Path) -> None:
    env = envs.m2_env()
    rev = env.revisions[0].revision_id
    store = envs.save(store_root, env)
    connect = Connector()
    connect.cluster.add_namespace("gtc-local")  # apply-revision follows a reconcile of the env
    result = verbs.apply_revision(store, "local", rev, connect=connect)
    name = naming.worker_name(rev)
    assert result["action"] == "applied"
    assert [(o["kind"], o["name"]) for o in result["objects"]] == [
        ("Deployment", name),
        ("Service", name),
    ]
    with store.mutate("local", verb="test") as e:
        e.traffic_splits = []
        e.revisions[0].lifecycle = "archived"
    gone = verbs.apply_revision(store, "local", rev, connect=connect)
    assert gone["action"] == "pruned"
    assert [k.kind for k in connect.cluster.objects] == ["Namespace"]


def test_apply_revision_errors(store_root: Path) -> None:
    env = envs.m2_env()
    doc = env.to_json_dict()
    doc["revisions"].append(
        envs.revision("local", "perf-smoke", 2, lifecycle="staged").to_json_dict()
    )
    store = envs.save(store_root, Environment.model_validate(doc))
    connect = Connector()
    with pytest.raises(NotFound, match="revision `01ABC` not found"):
        verbs.apply_revision(store, "local", "01ABC", connect=connect)
    staged = envs.rev_id("local", 2)
    with pytest.raises(Conflict, match="is staged") as info:
        verbs.apply_revision(store, "local", staged, connect=connect)
    assert "revisions warm" in (info.value.hint or "")
    assert connect.contexts == []
