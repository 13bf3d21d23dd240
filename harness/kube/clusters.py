"""Which kind cluster this process runs on, and which images it has already loaded there.

One cluster per process (each pytest-xdist worker owns one, deleted at session end or exit), or
the kept cluster named by `$GTC_KIND_CLUSTER` (the demo's, adopted when it exists).
Scenarios use env `local` (namespace `gtc-local`), so two concurrent runs cannot share one.
Used by `KindBackend`, the demo verbs and the kind pytest fixtures.
"""

from __future__ import annotations

import atexit
import os
import secrets
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harness.kube.commands import Runner
from harness.kube.kind import KindCluster, cluster_name

CLUSTER_ENV = "GTC_KIND_CLUSTER"  # a kept cluster to use instead of one per process

_CLUSTERS: dict[str, KindCluster] = {}


def kept_cluster(name: str, *, registry_image: str, runner: Runner) -> KindCluster:
    """The kept cluster `name` (adopted when it exists): `$GTC_KIND_CLUSTER` or the demo's."""
    return KindCluster(
        name,
        run_id=name,
        workdir=Path(tempfile.gettempdir()) / "greentic-kind",
        registry_image=registry_image,
        keep=True,
        reuse=True,
        runner=runner,
    )


def _own_cluster(*, runner: Runner, registry_image: str) -> KindCluster:
    """A new cluster named after this process (xdist worker) and deleted when it exits."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", f"p{os.getpid()}")
    run_id = f"{worker}-{secrets.token_hex(2)}"
    work = Path(tempfile.mkdtemp(prefix="greentic-kind-"))
    cluster = KindCluster(
        cluster_name(run_id),
        run_id=run_id,
        workdir=work,
        kubeconfig=work / "kubeconfig",
        registry_image=registry_image,
        runner=runner,
    )
    atexit.register(cluster.delete)
    return cluster


def session_cluster(*, runner: Runner, registry_image: str) -> KindCluster:
    """`$GTC_KIND_CLUSTER` (kept, adopted or created), else this process's own cluster."""
    kept = os.environ.get(CLUSTER_ENV)
    key = kept or "process"
    if key in _CLUSTERS:
        return _CLUSTERS[key]
    if kept:
        cluster = kept_cluster(kept, registry_image=registry_image, runner=runner)
    else:
        cluster = _own_cluster(runner=runner, registry_image=registry_image)
    cluster.create()
    _CLUSTERS[key] = cluster
    return cluster


def close_session_clusters() -> list[str]:
    """Delete this process's own clusters now (pytest session end; atexit is the fallback)."""
    closed = []
    for key, cluster in list(_CLUSTERS.items()):
        if not cluster.keep:
            cluster.delete()
            closed.append(cluster.name)
        del _CLUSTERS[key]
    return closed


def load_once(cluster: KindCluster, tags: Sequence[str]) -> None:
    """`kind load docker-image` each tag once per cluster per process (tags are content hashes;
    `KindCluster.image_ref` remembers what it loaded)."""
    for tag in tags:
        cluster.image_ref(tag)
