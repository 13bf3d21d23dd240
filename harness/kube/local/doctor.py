"""What `demo.py doctor` says about the local cluster (`--provider local`)."""

from __future__ import annotations

from pathlib import Path

from harness.kube.local import cluster, node
from harness.kube.local.cluster import CONTEXT as CONTEXT
from harness.preflight import Finding


def finding() -> tuple[Finding, Path | None]:
    """Running (and its kubeconfig, so doctor checks its context and pod network), or what
    starts it: the Debian packages it lacks, else the verb."""
    found = cluster.running()
    if found is not None:
        detail = f"Kubernetes {found.version} running in {found.directory} (--provider local)"
        return Finding("local cluster", "ok", detail), found.kubeconfig
    missing = node.missing_prerequisites()
    fix = f"it needs {'; '.join(missing)}" if missing else "`demo.py cluster-up --provider local`"
    return Finding("local cluster", "warn", "not running", fix), None


def kind_optional(found: Finding) -> Finding:
    """kind is not needed while the local cluster runs: its absence is a warning then."""
    if found.name != "kind" or found.ok:
        return found
    return Finding("kind", "warn", f"{found.detail} (not needed: --provider local)")
