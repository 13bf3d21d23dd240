"""The demo's kind verbs: `kind-up` and `kind-down` of the kept demo cluster, and their gate.

The demo cluster is `$GTC_KIND_CLUSTER`, else `gtc-demo`; it is kept between verbs (kind-serve,
kind-pull, prune run on it) until `kind-down`. `demo.py --kube-context CTX` (`select_cluster`)
runs the cluster-track scenarios on an existing cluster instead. Without docker, kind or
kubectl every verb stops at the preflight with one line per miss and the `--track docker` way
out. Called by demo.py.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness import preflight
from harness.kube.clusters import CLUSTER_ENV, CONTEXT_ENV, REGISTRY_ENV, kept_cluster
from harness.kube.commands import Runner, SubprocessRunner
from harness.kube.kind import KindCluster

DEMO_CLUSTER = "gtc-demo"


def demo_cluster_name() -> str:
    """The kept cluster the demo verbs share: `$GTC_KIND_CLUSTER`, else `gtc-demo`."""
    return os.environ.get(CLUSTER_ENV) or DEMO_CLUSTER


def select_cluster(kube_context: str | None, image_registry: str | None) -> None:
    """demo.py's --kube-context / --image-registry: exported where `clusters.cluster_options`
    reads them, so this process's cluster-track scenarios run on that existing cluster."""
    for variable, value in ((CONTEXT_ENV, kube_context), (REGISTRY_ENV, image_registry)):
        if value:
            os.environ[variable] = value


def use_demo_cluster() -> str:
    """Make this process's kind scenarios run on the demo cluster (created if absent, kept),
    unless an existing cluster was selected (--kube-context): then its context."""
    if os.environ.get(CONTEXT_ENV):
        return os.environ[CONTEXT_ENV]
    os.environ.setdefault(CLUSTER_ENV, DEMO_CLUSTER)
    return os.environ[CLUSTER_ENV]


def demo_preflight(out: Callable[[str], None]) -> bool:
    """The kind verbs' gate: True when docker, kind and kubectl are there, else print one
    line per miss (with its fix) and the `--track docker` way out, and return False."""
    try:
        if not os.environ.get(CONTEXT_ENV):  # an existing cluster needs no kind (kubectl is
            preflight.require("kind")  # checked by its reachability check, in seconds)
    except preflight.PreflightFailed as exc:
        for finding in exc.failed:
            out(finding.line())
        out(f"next: {exc.hint}")
        return False
    return True


def kind_up(out: Callable[[str], None], *, runner: Runner | None = None) -> int:
    """Create (or adopt) the demo cluster with its local registry and load today's images."""
    if not demo_preflight(out):
        return 1
    from harness.docker import images as builder

    out("building the runtime, busybox and registry images (content-hash tags; cached)")
    built = builder.ensure_all()
    name = use_demo_cluster()
    cluster = kept_cluster(name, registry_image=built.registry, runner=runner or SubprocessRunner())
    out(f"creating kind cluster `{name}` (node image pinned by digest) unless it exists")
    cluster.create()
    for tag in (built.runtime, built.busybox, built.registry):
        out(f"kind load docker-image {tag}")
        cluster.load_image(tag)
    out(f"cluster `{name}` is up: kubectl --context {cluster.context} get nodes")
    out("next: python demo.py kind-serve   (then kind-pull, prune; kind-down deletes it)")
    return 0


def kind_down(out: Callable[[str], None], *, runner: Runner | None = None) -> int:
    """Delete the demo cluster and its registry container (fine when already gone)."""
    if not demo_preflight(out):
        return 1
    name = demo_cluster_name()
    cluster = KindCluster(
        name, run_id=name, workdir=Path(tempfile.gettempdir()), runner=runner or SubprocessRunner()
    )
    if not cluster.exists():
        out(f"no kind cluster `{name}`; nothing to delete")
        cluster.delete()  # its registry container may still be there
        return 0
    cluster.delete()
    out(f"deleted kind cluster `{name}` and its registry")
    return 0
