"""The Cluster Protocol: both implementations conform; errors translate in one place."""

from __future__ import annotations

import sys

import pytest

from greentic.deployer.k8s import cluster as cluster_mod
from greentic.deployer.k8s.cluster import Cluster, KubeCluster, error_for, selector
from greentic.deployer.k8s.errors import ClusterError, KubeClientMissing
from greentic.deployer.k8s.fake import FakeCluster
from greentic.errors import ApplyConflict, Conflict, NotFound

PROTOCOL_METHODS = ("apply", "list", "get", "delete")


@pytest.mark.parametrize("impl", [FakeCluster, KubeCluster])
def test_implementations_conform(impl: type) -> None:
    for name in PROTOCOL_METHODS:
        assert callable(getattr(impl, name)), name
    assert [m for m in dir(Cluster) if not m.startswith("_")] == sorted(PROTOCOL_METHODS)


def test_fake_is_a_cluster() -> None:
    assert isinstance(FakeCluster(), Cluster)


def test_error_for_keeps_the_status_message() -> None:
    nf = error_for(404, 'deployments.apps "x" not found', what="reading Deployment x")
    assert isinstance(nf, NotFound)
    assert str(nf) == 'reading Deployment x: deployments.apps "x" not found'
    conflict = error_for(409, "Apply failed with 1 conflict", what="applying x")
    assert isinstance(conflict, ApplyConflict) and conflict.status == 409
    forbidden = error_for(403, 'forbidden: User "dev" cannot patch', what="applying x")
    assert isinstance(forbidden, ClusterError) and forbidden.kind == "conflict"
    assert forbidden.hint and "credentials" in forbidden.hint
    other = error_for(422, "spec.replicas: Invalid value", what="applying x")
    assert (
        str(other) == "Kubernetes API error: applying x: spec.replicas: Invalid value (status 422)"
    )


def test_selector_is_sorted() -> None:
    assert selector({"b": "2", "a": "1"}) == "a=1,b=2"


def test_missing_client_is_a_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    with pytest.raises(KubeClientMissing) as info:
        KubeCluster.connect("any")
    assert isinstance(info.value, Conflict)
    assert info.value.envelope() == {
        "kind": "conflict",
        "message": "this install lacks the Kubernetes client (install greentic[k8s])",
    }


def test_render_and_plan_never_import_kubernetes() -> None:
    import ast
    from pathlib import Path

    pure = (
        "render",
        "plan",
        "naming",
        "answers",
        "bodies",
        "inputs",
        "bindings",
        "pods",
        "manifests",
    )
    root = Path(cluster_mod.__file__).parent
    for name in pure:
        tree = ast.parse((root / f"{name}.py").read_text())
        imported = {
            (n.module or "") if isinstance(n, ast.ImportFrom) else a.name
            for n in ast.walk(tree)
            if isinstance(n, ast.Import | ast.ImportFrom)
            for a in n.names
        }
        assert not any(m.split(".")[0] in ("kubernetes", "docker", "httpx") for m in imported), name
