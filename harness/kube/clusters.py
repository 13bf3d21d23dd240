"""Which cluster this process runs on, and which images it has already loaded there.

The cluster track's choice travels in the environment, so scenario runs, subprocesses and
pytest-xdist workers all see what the pytest plugin's flags or demo.py's said; `cluster_options`
is the ONE place that reads it into `ClusterOptions`:

    GTC_CLUSTER_PROVIDER=NAME     kind | existing | local (--provider; unset: existing with a
                                  context, else kind)
    GTC_KUBE_CONTEXT=CTX          the `existing` provider on that context (--kube-context)
    GTC_IMAGE_REGISTRY=HOST[/P]   where its images are pushed (--image-registry)
    GTC_KIND_CLUSTER=NAME         a named kind cluster, adopted or created, never deleted by
                                  this process (--cluster-name, --keep-cluster, the demo's)

`session_provider` turns them into one set-up Provider per process (cached, its failure too:
an unreachable context fails every run in milliseconds with the same one line). Without any,
each process (xdist worker) owns a kind cluster deleted at session end or exit. The `local`
provider is one per machine: every process adopts the running one and keeps it (whoever
started it stops it: the plugin's controller, or `demo.py cluster-down`). Used by
`KindBackend`, the demo verbs and the plugin's `cluster` fixture.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from harness.kube.commands import ProviderError, Runner
from harness.kube.kind import KindCluster
from harness.kube.providers import ClusterOptions, Provider, provider_for, provider_name

PROVIDER_ENV = "GTC_CLUSTER_PROVIDER"  # kind | existing | local
CLUSTER_ENV = "GTC_KIND_CLUSTER"  # a named kind cluster to use instead of one per process
CONTEXT_ENV = "GTC_KUBE_CONTEXT"  # an existing cluster's kubeconfig context
REGISTRY_ENV = "GTC_IMAGE_REGISTRY"  # where images go for an existing cluster

_CLUSTERS: dict[str, Provider] = {}
_FAILED: dict[str, ProviderError] = {}


def cluster_options(environ: Mapping[str, str] | None = None) -> ClusterOptions:
    """The cluster the environment selects (see the module docstring). A named kind cluster
    and the local cluster are kept by this process: the session that created it decides (the
    plugin's controller, or the demo's cluster-down)."""
    env = os.environ if environ is None else environ
    provider = env.get(PROVIDER_ENV) or None
    name = env.get(CLUSTER_ENV) or None
    return ClusterOptions(
        provider=provider,
        kube_context=env.get(CONTEXT_ENV) or None,
        image_registry=env.get(REGISTRY_ENV) or None,
        cluster_name=name,
        keep_cluster=name is not None or provider == "local",
    )


def kept_cluster(name: str, *, registry_image: str, runner: Runner) -> KindCluster:
    """The kept kind cluster `name` (adopted when it exists): `$GTC_KIND_CLUSTER` or the demo's."""
    return KindCluster(
        name,
        run_id=name,
        workdir=Path(tempfile.gettempdir()) / "greentic-kind",
        registry_image=registry_image,
        keep=True,
        reuse=True,
        runner=runner,
    )


def _key(options: ClusterOptions) -> str:
    """One cached provider per cluster: the local one, a context, a named kind cluster, or
    this process's own kind cluster."""
    name = provider_name(options)
    if name == "local":
        return "local"
    if name == "existing":
        return f"context:{options.kube_context}"
    return f"kind:{options.cluster_name}" if options.cluster_name else "process"


def session_provider(
    options: ClusterOptions, *, runner: Runner, registry_image: Callable[[], str]
) -> Provider:
    """The set-up Provider `options` select, one per process. `registry_image` is asked only
    when a kind cluster is created (so an unreachable context fails before any image build)."""
    key = _key(options)
    if key in _FAILED:
        raise _FAILED[key]
    if key in _CLUSTERS:
        return _CLUSTERS[key]
    if provider_name(options) == "kind":
        options = dataclasses.replace(options, registry_image=registry_image())
    provider = provider_for(options, runner=runner)
    if not provider.keep and isinstance(provider, KindCluster):
        atexit.register(provider.delete)  # the fallback when the session end is missed
    try:
        provider.set_up()
    except ProviderError as exc:
        _FAILED[key] = exc
        raise
    _CLUSTERS[key] = provider
    return provider


def session_cluster(*, runner: Runner, registry_image: str) -> KindCluster:
    """The kind cluster of this process (kind-only callers: the local-registry recipe's
    tests); a clear error when the environment selects another provider."""
    options = cluster_options()
    if (name := provider_name(options)) != "kind":
        flag = "--provider local" if name == "local" else f"--kube-context `{options.kube_context}`"
        raise ProviderError(
            f"this needs a kind cluster, but {flag} selects the `{name}` provider — run it "
            f"without {flag.split()[0]}"
        )
    cluster = session_provider(options, runner=runner, registry_image=lambda: registry_image)
    if not isinstance(cluster, KindCluster):  # provider_name said kind: provider_for made one
        raise ProviderError(f"expected a kind cluster, got the `{cluster.provider}` provider")
    return cluster


def close_session_clusters() -> list[str]:
    """Delete this process's own clusters now (pytest session end; atexit is the fallback);
    an existing or local provider deletes its run's namespaces, and the local one stops the
    cluster only when it started it and does not keep it. The names of the clusters gone."""
    closed = []
    for key, cluster in list(_CLUSTERS.items()):
        del _CLUSTERS[key]
        if isinstance(cluster, KindCluster):
            if not cluster.keep:
                cluster.delete()
                closed.append(cluster.name)
            continue
        if not cluster.keep:
            closed.append(cluster.context)
        cluster.tear_down(None)
    _FAILED.clear()
    return closed


def load_once(cluster: Provider, tags: Sequence[str]) -> None:
    """Make each tag pullable once per cluster per process (tags are content hashes;
    the provider's `image_ref` remembers what it loaded or pushed)."""
    for tag in tags:
        cluster.image_ref(tag)
