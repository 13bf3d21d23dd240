"""The demo's cluster verbs: `kind-up`/`kind-down` of the kept demo cluster, `cluster-up`/
`cluster-down --provider local` of the local cluster, and their gate.

The demo cluster is `$GTC_KIND_CLUSTER`, else `gtc-demo`; it is kept between verbs (kind-serve,
kind-pull, prune run on it) until `kind-down`. `demo.py --kube-context CTX` (`select_cluster`)
runs the cluster-track scenarios on an existing cluster instead, and `--provider local` on the
local cluster (`harness.kube.local.cluster`: started by `cluster-up`, or by the first scenario
verb when not running, and kept until `cluster-down`). Without docker, kind or kubectl every
verb stops at the preflight with one line per miss and the `--track docker` way out. Called by
demo.py.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness import preflight
from harness.errors import HarnessError
from harness.kube.clusters import CLUSTER_ENV, CONTEXT_ENV, PROVIDER_ENV, REGISTRY_ENV, kept_cluster
from harness.kube.commands import Runner, SubprocessRunner
from harness.kube.kind import KindCluster

DEMO_CLUSTER = "gtc-demo"


def demo_cluster_name() -> str:
    """The kept cluster the demo verbs share: `$GTC_KIND_CLUSTER`, else `gtc-demo`."""
    return os.environ.get(CLUSTER_ENV) or DEMO_CLUSTER


def select_cluster(
    kube_context: str | None, image_registry: str | None, provider: str | None = None
) -> None:
    """demo.py's --kube-context / --image-registry / --provider: exported where
    `clusters.cluster_options` reads them, so this process's cluster-track scenarios run on
    that existing cluster, or on the local one."""
    chosen = ((CONTEXT_ENV, kube_context), (REGISTRY_ENV, image_registry), (PROVIDER_ENV, provider))
    for variable, value in chosen:
        if value:
            os.environ[variable] = value


def local_selected() -> bool:
    return os.environ.get(PROVIDER_ENV) == "local"


def use_demo_cluster() -> str:
    """Make this process's kind scenarios run on the demo cluster (created if absent, kept),
    unless an existing cluster (--kube-context: its context) or the local one (--provider
    local: its context) was selected."""
    if local_selected():
        from harness.kube.local.cluster import CONTEXT

        return CONTEXT
    if os.environ.get(CONTEXT_ENV):
        return os.environ[CONTEXT_ENV]
    os.environ.setdefault(CLUSTER_ENV, DEMO_CLUSTER)
    return os.environ[CLUSTER_ENV]


def demo_preflight(out: Callable[[str], None]) -> bool:
    """The kind verbs' gate: True when docker, kind and kubectl are there, else print one
    line per miss (with its fix) and the `--track docker` way out, and return False. The
    local cluster needs docker (its images are built there) but no kind; an existing cluster
    neither (kubectl is checked by its reachability check, in seconds)."""
    try:
        if local_selected():
            preflight.require("docker")
        elif not os.environ.get(CONTEXT_ENV):
            preflight.require("kind")
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


def cluster_up(
    out: Callable[[str], None], *, provider: str | None = None, runner: Runner | None = None
) -> int:
    """`cluster-up --provider local`: start (or find) the local cluster and say how to use it;
    any other provider is `kind-up`."""
    if provider != "local":
        return kind_up(out, runner=runner)
    from harness.kube.local import cluster as local_cluster
    from harness.kube.local.provider import DOWN_VERB, first_line

    found = local_cluster.running()
    if found is not None:
        out(f"the local cluster in {found.directory} is already running (pid {found.pid})")
    else:
        out(f"starting the local cluster in {local_cluster.default_dir()} (minutes when cold)")
        try:
            found = local_cluster.start(out=out)
        except HarnessError as exc:
            out(f"✗ the local cluster did not start: {first_line(exc)}")
            out(f"next: read the output above and the logs under {local_cluster.default_dir()}")
            return 1
    out(f"local cluster `{found.context}` is up: Kubernetes {found.version}")
    with contextlib.suppress(OSError):  # the server's own answer, not what we asked for
        for line in (found.logs / "kubectl-version.txt").read_text().splitlines():
            out(f"  {line}")
    out(f"kubeconfig: {found.kubeconfig}")
    out(f"try: kubectl --kubeconfig {found.kubeconfig} get nodes")
    out(f"logs: {found.logs}")
    out(f"next: python demo.py kind-serve --provider local   ({DOWN_VERB} stops it)")
    return 0


def cluster_down(
    out: Callable[[str], None], *, provider: str | None = None, runner: Runner | None = None
) -> int:
    """`cluster-down --provider local`: stop the local cluster; exit 1 listing what it left
    on the host. Any other provider is `kind-down`."""
    if provider != "local":
        return kind_down(out, runner=runner)
    from harness.kube.local import cluster as local_cluster
    from harness.kube.local.provider import DOWN_VERB

    found = local_cluster.running()
    if found is not None:  # every process's log and `kubectl version`, before the next wipe
        from harness.artifacts import default_root
        from harness.kube.local.provider import copy_logs

        dest = default_root(Path(__file__).resolve().parents[2]) / "local-cluster"
        out(f"cluster logs: {dest} ({len(copy_logs(found.logs, dest))} files)")
    left = local_cluster.stop(out=out)
    if found is None:
        out(f"no local cluster was running in {local_cluster.default_dir()}; nothing to stop")
    else:
        out(
            f"stopped local cluster `{found.context}` (Kubernetes {found.version}, "
            f"supervisor pid {found.pid}) in {found.directory}"
        )
    if left:
        out("✗ left on the host:")
        for item in left:
            out(f"  {item}")
        out(f"next: remove them by hand, then run `{DOWN_VERB}` again")
        return 1
    return 0
