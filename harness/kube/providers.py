"""Where the cluster track's pods run: one `Provider` per kind of cluster, picked by `provider_for`.

The cluster track (formerly "the kind track") runs the pod scenarios against any kubeconfig
context. Callers (the pytest plugin, `KindBackend`, the demo verbs) build `ClusterOptions` from
their flags and ask `provider_for(options)`; they then use only the `Provider` protocol:

    provider = provider_for(ClusterOptions(kube_context="k3d-dev", image_registry="localhost:5001"))
    with provider:                                   # set_up: reachable? (fails in seconds)
        ref = provider.image_ref("gtc-runtime:3f2a")  # kind: `kind load`; else docker push
        provider.kubectl("get", "nodes")
        env = provider.kube_env(operator_env(work))   # KUBECONFIG for `gtc op env reconcile`
        ns = provider.namespace_for(run_id)           # unique per run where clusters are shared

Providers:
- `kind` (default, `KindCluster`): creates a cluster with its local registry (or adopts the
  named one, `--cluster-name`), loads images with `kind load`, deletes it unless kept
  (`--keep-cluster`). One naming rule (`kind_cluster_name`): a kept cluster always has a name
  the next run finds — `--cluster-name`, else `gtc-pytest`; only an unkept, unnamed cluster
  is this run's own `gtc-<run id>`. On a failed create or registry wiring it writes
  `kind export logs`.
- `existing` (`harness.kube.existing.Existing`, `--kube-context CTX`): a cluster someone
  else owns (a kept kind cluster, k3d, minikube, a cloud cluster). Never created or deleted;
  images are pushed to `--image-registry HOST[/PREFIX]` (a `kind-<name>` context of a local
  kind cluster may load them instead); every namespace the run makes is labelled
  `greentic.test/run=<run id>` and deleted by that label at tear-down.
- `local` (`harness.kube.local.provider.Local`, `--provider local`): the real single-node
  cluster `harness.kube.local.cluster` runs on this machine (context `greentic-local`, its own
  kubeconfig). Adopted when running (then never stopped by the run), else started — not by
  an xdist worker, which fails in one line naming `python demo.py cluster-up --provider
  local` — and stopped at tear-down unless kept. Otherwise it is `existing`: per-run labelled
  namespaces, kubectl evidence (plus the cluster's process logs); images are imported into
  the node's containerd (`harness.kube.local.images`), once per tag per process.

Every provider hands child processes an explicit KUBECONFIG (`kube_env`): `operator_env()`
points HOME at a run directory, where `~/.kube/config` would find nothing.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.kube import netpol
from harness.kube.commands import (
    COMMAND_TIMEOUT_S,
    Completed,
    ProviderError,
    Runner,
    SubprocessRunner,
)
from harness.kube.commands import (
    ClusterUnreachable as ClusterUnreachable,  # re-exported: what set_up raises
)
from harness.kube.existing import Existing as Existing
from harness.kube.existing import kind_name_of as kind_name_of
from harness.kube.existing import remote_ref as remote_ref
from harness.kube.existing import run_namespace as run_namespace
from harness.kube.kind import KindCluster, cluster_name
from harness.kube.kubectl import RUN_LABEL as RUN_LABEL

PROVIDERS = ("kind", "existing", "local")
KEPT_CLUSTER = "gtc-pytest"  # the kind cluster --keep-cluster keeps without --cluster-name


@dataclass(frozen=True)
class ClusterOptions:
    """What the user chose (pytest flags, demo verbs); `provider_for` turns it into a Provider.

    `provider=None` means: `existing` when `kube_context` is given, else `kind`."""

    provider: str | None = None
    kube_context: str | None = None
    kubeconfig: Path | None = None
    cluster_name: str | None = None  # kind: adopt or create this one (pytest-kind's flag)
    keep_cluster: bool = False
    image_registry: str | None = None  # HOST[/PREFIX] the cluster can pull from
    artifacts_dir: Path | None = None
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    registry_image: str | None = None  # kind: the local registry container's image


class Provider(Protocol):
    """One cluster the pod scenarios run on. `with provider:` = set_up … tear_down(exc)."""

    provider: str  # "kind" | "existing" | "local"
    keep: bool
    run_id: str

    @property
    def context(self) -> str: ...

    def set_up(self) -> None:
        """Make the cluster usable (create/adopt, or check it answers) — in seconds when not."""
        ...

    def tear_down(self, exc: BaseException | None) -> None:
        """Evidence on failure; delete what the run created (the cluster unless kept)."""
        ...

    def __enter__(self) -> Any: ...

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None: ...

    def check_reachable(self) -> None:
        """ClusterUnreachable (one line) unless the API server answers within seconds."""
        ...

    def kubectl_argv(self, *args: str) -> list[str]: ...

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = COMMAND_TIMEOUT_S
    ) -> Completed: ...

    def apply(self, objects: Sequence[Mapping[str, Any]]) -> Completed: ...

    def kube_env(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` plus an explicit KUBECONFIG naming this cluster's credentials."""
        ...

    def image_ref(self, tag: str) -> str:
        """Make local image `tag` pullable by pods; the ref manifests must name."""
        ...

    def namespace_for(self, env_id: str) -> str:
        """The namespace env `env_id`'s objects go to on this cluster."""
        ...

    def enforces_network_policy(self, image: str) -> netpol.Detection:
        """Does the cluster drop what a deny-all NetworkPolicy denies? Probed with busybox
        `image` (a ref pods can pull), once per cluster per process (`harness.kube.netpol`)."""
        ...

    def namespace_labels(self) -> dict[str, str]:
        """Labels for every namespace the run creates (cleanup selects on them)."""
        ...

    def collect_artifacts(
        self, dest: Path, namespaces: Sequence[str] | None = None, *, node_logs: bool = True
    ) -> list[Path]: ...


# -- choosing ----------------------------------------------------------------------------------


def provider_name(options: ClusterOptions) -> str:
    """The provider the options select: explicit, else `existing` with a context, else kind."""
    name = options.provider or ("existing" if options.kube_context else "kind")
    if name not in PROVIDERS:
        raise ProviderError(
            f"unknown cluster provider `{name}`: pick one of {', '.join(PROVIDERS)}"
        )
    return name


def provider_for(options: ClusterOptions, *, runner: Runner | None = None) -> Provider:
    """The Provider for `options` (not set up yet: `with provider:` or `provider.set_up()`)."""
    runner = runner or SubprocessRunner()
    name = provider_name(options)
    if name == "existing":
        if not options.kube_context:
            raise ProviderError("the `existing` provider needs --kube-context CTX")
        return Existing(
            options.kube_context,
            run_id=options.run_id,
            kubeconfig=options.kubeconfig,
            image_registry=options.image_registry,
            artifacts=options.artifacts_dir,
            runner=runner,
        )
    if name == "local":
        from harness.kube.local.provider import Local

        return Local(
            run_id=options.run_id,
            artifacts=options.artifacts_dir,
            keep=options.keep_cluster,
            may_start=not os.environ.get("PYTEST_XDIST_WORKER"),  # workers adopt, never start
            runner=runner,
        )
    return _kind(options, runner)


def kind_cluster_name(options: ClusterOptions) -> str | None:
    """The one rule for naming a kind cluster: `--cluster-name`, else — with `--keep-cluster`
    — `KEPT_CLUSTER` (a kept cluster must have a name the next run finds), else None (this
    run's own `gtc-<run id>` cluster, deleted at the end)."""
    if options.cluster_name:
        return options.cluster_name
    return KEPT_CLUSTER if options.keep_cluster else None


def _kind(options: ClusterOptions, runner: Runner) -> KindCluster:
    name = kind_cluster_name(options)
    if name:  # named: adopted when it exists, kept only when asked
        work = Path(tempfile.gettempdir()) / "greentic-kind"
        return KindCluster(
            name,
            run_id=name,
            workdir=work,
            registry_image=options.registry_image,
            artifacts=options.artifacts_dir,
            keep=options.keep_cluster,
            reuse=True,
            runner=runner,
        )
    work = Path(tempfile.mkdtemp(prefix="greentic-kind-"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    run_id = "-".join(p for p in (worker, options.run_id) if p)
    return KindCluster(
        cluster_name(run_id),
        run_id=run_id,
        workdir=work,
        kubeconfig=work / "kubeconfig",
        registry_image=options.registry_image,
        artifacts=options.artifacts_dir,
        keep=options.keep_cluster,
        runner=runner,
    )


if TYPE_CHECKING:  # mypy holds every provider to the protocol
    from harness.kube.local.provider import Local

    def _kind_is_a_provider(cluster: KindCluster) -> Provider:
        return cluster

    def _existing_is_a_provider(cluster: Existing) -> Provider:
        return cluster

    def _local_is_a_provider(cluster: Local) -> Provider:
        return cluster
