"""`gtc op env reconcile` through the real `op` group, with a FakeCluster at the seam."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from greentic.cli.op import op
from greentic.deployer.k8s import verbs
from greentic.deployer.k8s.fake import FakeCluster
from tests.unit.deployer.k8s import envs


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    cluster = FakeCluster()
    contexts: list[str | None] = []
    monkeypatch.setattr(verbs, "_connect", lambda ctx: contexts.append(ctx) or cluster)
    cluster.contexts = contexts  # type: ignore[attr-defined]
    return cluster


def invoke(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        op, ["--store-root", str(root), "env", *args], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def test_reconcile_then_idempotent_rerun(store_root: Path, fake: FakeCluster) -> None:
    envs.save(store_root, envs.m2_env())
    code, out, err = invoke(store_root, "reconcile", "local")
    assert code == 0
    doc = json.loads(out)
    assert (doc["op"], doc["noun"]) == ("reconcile", "env")
    result = doc["result"]
    assert (result["namespace"], result["applied"], result["pruned"]) == ("gtc-local", 14, 0)
    assert result["objects"][0] == {"kind": "Namespace", "name": "gtc-local", "action": "created"}
    assert "created  Namespace gtc-local" in err
    code, out, _ = invoke(store_root, "reconcile", "local")
    again = json.loads(out)["result"]
    assert (code, again["applied"], again["changed"]) == (0, 14, 0)
    assert fake.changes == 14


def test_flags_reach_the_cluster(store_root: Path, fake: FakeCluster) -> None:
    envs.save(store_root, envs.m2_env(), {"kubeconfig_context": "from-answer"})
    code, out, _ = invoke(store_root, "reconcile", "local", "--context", "kind-x", "--dry-run")
    assert code == 0 and json.loads(out)["result"]["dry_run"] is True
    assert fake.contexts == ["kind-x"]  # type: ignore[attr-defined]
    assert fake.objects == {} and all(c.options["dry_run"] for c in fake.calls if c.verb == "apply")


def test_wait_reports_rollout(store_root: Path, fake: FakeCluster) -> None:
    envs.save(store_root, envs.m2_env())
    code, _, err = invoke(store_root, "reconcile", "local", "--wait", "--timeout", "5")
    assert code == 0
    assert "rollout: Deployment gtc-router is ready" in err


def test_missing_kubernetes_client(store_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    envs.save(store_root, envs.m2_env())
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    code, out, err = invoke(store_root, "reconcile", "local")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        '{"op":"reconcile","noun":"env","error":{"kind":"conflict",'
        '"message":"this install lacks the Kubernetes client (install greentic[k8s])",'
        '"hint":"pip install \'greentic[k8s]\'"}}'
    ]


def test_bad_timeout_is_invalid_argument(store_root: Path, fake: FakeCluster) -> None:
    envs.save(store_root, envs.m2_env())
    code, _, err = invoke(store_root, "reconcile", "local", "--timeout", "0")
    assert code == 1
    assert json.loads(err.splitlines()[0])["error"]["kind"] == "invalid-argument"
