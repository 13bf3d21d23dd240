"""What `demo.py doctor` says about the local cluster (`--provider local`)."""

from __future__ import annotations

from harness.doctor import OtherCluster
from harness.kube.local import cluster, node
from harness.preflight import Finding


def seen() -> OtherCluster:
    """Running (with its context and kubeconfig, so doctor checks its API and pod network), or
    what starts it: the Debian packages it lacks, else the verb."""
    found = cluster.running()
    if found is not None:
        detail = f"Kubernetes {found.version} running in {found.directory} (--provider local)"
        return OtherCluster(Finding("local cluster", "ok", detail), found.context, found.kubeconfig)
    missing = node.missing_prerequisites()
    fix = f"it needs {'; '.join(missing)}" if missing else "`demo.py cluster-up --provider local`"
    return OtherCluster(Finding("local cluster", "warn", "not running", fix))
