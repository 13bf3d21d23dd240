"""Guard the package surface (STYLE §1): modules and seam types only, one sorted __all__."""

from __future__ import annotations

import greentic.deployer.k8s as k8s


def test_exported_members() -> None:
    assert k8s.__all__ == sorted(k8s.__all__)
    assert k8s.__all__ == [
        "ApplyConflict",
        "Cluster",
        "ClusterError",
        "ClusterUnreachable",
        "InvalidAnswers",
        "KubeClientMissing",
        "KubeCluster",
        "RolloutTimeout",
        "plan",
        "reconcile",
        "render",
    ]
    for name in k8s.__all__:
        assert getattr(k8s, name) is not None


def test_errors_are_conflicts() -> None:
    from greentic.errors import Conflict

    for name in (
        "ApplyConflict",
        "ClusterError",
        "ClusterUnreachable",
        "InvalidAnswers",
        "KubeClientMissing",
        "RolloutTimeout",
    ):
        err = getattr(k8s, name)
        assert issubclass(err, Conflict) and err.kind == "conflict"
        assert err.__doc__ and err.__doc__.startswith("Raised when")
