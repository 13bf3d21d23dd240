"""`demo.py doctor`: every preflight check, plus the clusters this machine can see (the kept
kind cluster, else a running local one: its context and pod network), one line each."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from harness import k8s_fixtures, preflight
from harness.kube.kind import context_name, kind_get_clusters_cmd
from harness.kube.kubectl import kubectl_cmd
from harness.preflight import Finding, Host


@dataclass(frozen=True)
class OtherCluster:
    """Another cluster doctor reports on (the local one); context and kubeconfig when it runs."""

    finding: Finding
    context: str | None = None
    kubeconfig: Path | None = None


def kind_context(host: Host, cluster: str | None) -> str | None:
    """The kept kind cluster's context, when kind is installed and the cluster exists."""
    if cluster is None or host.which("kind") is None:
        return None
    listed = host.runner.run(kind_get_clusters_cmd(), timeout=30)
    return context_name(cluster) if listed.ok and cluster in listed.stdout.split() else None


def doctor_verb(
    out: Callable[[str], None], *, cluster: str | None = None, other: OtherCluster | None = None
) -> int:
    """Every check; with a cluster (the kind one, else a running `other`), its context and pod
    network too; kind is optional while `other` runs. Exit 0 when nothing failed."""
    host = preflight.RealHost()
    context, kubeconfig = kind_context(host, cluster), None
    running = other is not None and other.context is not None
    if context is None and other is not None and running:
        context, kubeconfig = other.context, other.kubeconfig
    probe = None
    if context is not None:
        ns = k8s_fixtures.probe_namespace(secrets.token_hex(3))
        argv = kubectl_cmd(context, kubeconfig=kubeconfig)
        probe = partial(preflight.check_pod_network, kubectl=argv, namespace=ns)
    findings = preflight.doctor(host, context=context, kubeconfig=kubeconfig, pod_network=probe)
    findings += [other.finding] if other is not None else []
    if running:
        findings = [_kind_not_needed(f) for f in findings]
    for finding in findings:
        out(finding.line())
    return 0 if all(f.ok for f in findings) else 1


def _kind_not_needed(finding: Finding) -> Finding:
    """A missing kind is a warning while the local cluster runs (it is not needed there)."""
    if finding.ok or finding.name != "kind":
        return finding
    detail = f"{finding.detail} (not needed: --provider local)"
    return replace(finding, status="warn", detail=detail, fix="")
