"""Kubernetes deployer: answers → render (pure) → plan (pure) → reconcile over a Cluster seam.

Callers import modules, not names: `from greentic.deployer.k8s import render`, then
`render.objects(env, answers, dev_store=None)`. Only `cluster` imports `kubernetes`, lazily.
"""

from __future__ import annotations

from greentic.deployer.k8s import plan, reconcile, render
from greentic.deployer.k8s.cluster import Cluster, KubeCluster
from greentic.deployer.k8s.errors import (
    ApplyConflict,
    ClusterError,
    ClusterUnreachable,
    InvalidAnswers,
    KubeClientMissing,
    RolloutTimeout,
)

__all__ = [
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
