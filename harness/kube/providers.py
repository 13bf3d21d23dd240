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
- `existing` (`Existing`, `--kube-context CTX`): a cluster someone else owns (a kept kind
  cluster, k3d, minikube, a cloud cluster). Never created or deleted; images are pushed to
  `--image-registry HOST[/PREFIX]` (a `kind-<name>` context of a local kind cluster may load
  them instead); every namespace the run makes is labelled `greentic.test/run=<run id>` and
  deleted by that label at tear-down.
- `local`: reserved for a later issue (a clear error today).

Every provider hands child processes an explicit KUBECONFIG (`kube_env`): `operator_env()`
points HOME at a run directory, where `~/.kube/config` would find nothing.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from harness.closing import TearDownOnExit
from harness.kube import artifacts, netpol
from harness.kube.commands import (
    COMMAND_TIMEOUT_S,
    Completed,
    ProviderError,
    Runner,
    SubprocessRunner,
    must,
    parse_lines,
)
from harness.kube.commands import (
    ClusterUnreachable as ClusterUnreachable,  # re-exported: what set_up raises
)
from harness.kube.kind import (
    CREATE_TIMEOUT_S,
    KindCluster,
    check_reachable,
    cluster_name,
    kind_get_clusters_cmd,
    kind_load_cmd,
)
from harness.kube.kubectl import RUN_LABEL as RUN_LABEL
from harness.kube.kubectl import kubectl_cmd, resolve_kubeconfig
from harness.kube.local_registry import docker_push_cmd, docker_tag_cmd

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

    provider: str  # "kind" | "existing"
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


# -- pure helpers ----------------------------------------------------------------------------


def run_namespace(env_id: str, run_id: str) -> str:
    """`gtc-<env>-<run id>`: an RFC 1123 label unique per run, so runs can share a cluster."""
    raw = f"gtc-{env_id}-{run_id}".lower()
    name = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", raw)).strip("-")
    return name[:63].rstrip("-")


def remote_ref(registry: str, tag: str) -> str:
    """`HOST[/PREFIX]/<repo>:<tag>` for local image `tag` (its own registry host dropped)."""
    repo_tag = tag.rsplit("/", 1)[-1] if "/" in tag else tag
    return f"{registry.rstrip('/')}/{repo_tag}"


def kind_name_of(context: str) -> str | None:
    """`gtc-demo` for context `kind-gtc-demo` (kind's naming), else None."""
    return context.removeprefix("kind-") if context.startswith("kind-") else None


# -- the existing provider -------------------------------------------------------------------


@dataclass
class Existing(TearDownOnExit):
    """A cluster the run does not own: checked, used in per-run namespaces, never deleted."""

    kube_context: str
    run_id: str
    kubeconfig: Path | None = None
    image_registry: str | None = None
    artifacts: Path | None = None
    runner: Runner = field(default_factory=SubprocessRunner)
    keep: bool = True  # the cluster is never ours to delete
    provider: str = "existing"
    _pushed: dict[str, str] = field(default_factory=dict)

    @property
    def context(self) -> str:
        return self.kube_context

    def set_up(self) -> None:
        self.check_reachable()

    def tear_down(self, exc: BaseException | None) -> None:
        """Artifacts on failure, then every namespace labelled with this run's id."""
        if exc is not None and self.artifacts is not None:
            written = self.collect_artifacts(self.artifacts)
            exc.add_note(f"cluster artifacts: {self.artifacts} ({len(written)} files)")
        self.runner.run(
            self.kubectl_argv(
                "delete", "namespace", "-l", f"{RUN_LABEL}={self.run_id}", "--wait=false",
                "--ignore-not-found",
            ),
            timeout=COMMAND_TIMEOUT_S,
        )  # fmt: skip

    def check_reachable(self) -> None:
        check_reachable(self.runner, self.context, self.kubeconfig)

    def kubectl_argv(self, *args: str) -> list[str]:
        return kubectl_cmd(self.context, *args, kubeconfig=self.kubeconfig)

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = COMMAND_TIMEOUT_S
    ) -> Completed:
        return must(self.runner.run(self.kubectl_argv(*args), timeout=timeout, input=input))

    def apply(self, objects: Sequence[Mapping[str, Any]]) -> Completed:
        text = yaml.safe_dump_all([dict(o) for o in objects], sort_keys=False)
        return self.kubectl(
            "apply", "--server-side", "--field-manager", "greentic-harness", "-f", "-", input=text
        )

    def kube_env(self, base: Mapping[str, str]) -> dict[str, str]:
        return {**base, "KUBECONFIG": resolve_kubeconfig(self.kubeconfig)}

    def image_ref(self, tag: str) -> str:
        """Pushed to `--image-registry` (once per tag); a local kind context loads instead."""
        if tag in self._pushed:
            return self._pushed[tag]
        if self.image_registry:
            ref = remote_ref(self.image_registry, tag)
            must(self.runner.run(docker_tag_cmd(tag, ref), timeout=COMMAND_TIMEOUT_S))
            pushed = self.runner.run(docker_push_cmd(ref), timeout=CREATE_TIMEOUT_S)
            must(pushed, hint=f"can this machine push to `{self.image_registry}`? (docker login)")
        elif (name := self._local_kind()) is not None:
            ref = tag
            must(self.runner.run(kind_load_cmd(name, tag), timeout=CREATE_TIMEOUT_S))
        else:
            raise ProviderError(
                f"cluster `{self.context}` cannot see this machine's image `{tag}`: pass "
                "--image-registry HOST[/PREFIX] (a registry the cluster pulls from)"
            )
        self._pushed[tag] = ref
        return ref

    def _local_kind(self) -> str | None:
        name = kind_name_of(self.context)
        if name is None:
            return None
        listed = self.runner.run(kind_get_clusters_cmd(), timeout=COMMAND_TIMEOUT_S)
        return name if listed.ok and name in parse_lines(listed.stdout) else None

    def namespace_for(self, env_id: str) -> str:
        return run_namespace(env_id, self.run_id)

    def enforces_network_policy(self, image: str) -> netpol.Detection:
        return netpol.detect_once(self.kubectl_argv(), self.runner, image, run_id=self.run_id)

    def namespace_labels(self) -> dict[str, str]:
        return {RUN_LABEL: self.run_id}

    def collect_artifacts(
        self, dest: Path, namespaces: Sequence[str] | None = None, *, node_logs: bool = True
    ) -> list[Path]:
        """kubectl evidence only (`kind export logs` needs a kind cluster)."""
        return artifacts.collect(
            self.runner, None, self.context, dest, kubeconfig=self.kubeconfig,
            namespaces=namespaces, node_logs=False,
        )  # fmt: skip


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
        raise ProviderError(
            "the `local` cluster provider is not built yet: use `kind` or "
            "`existing` (--kube-context CTX)"
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


if TYPE_CHECKING:  # mypy holds both providers to the protocol

    def _kind_is_a_provider(cluster: KindCluster) -> Provider:
        return cluster

    def _existing_is_a_provider(cluster: Existing) -> Provider:
        return cluster
