"""The part of a scenario that differs by track: where the worker runs and how it is reached.

A `WorkerBackend` serves bundles (distributor, registry), says which URI a worker pulls them
from (loopback on host; in-network aliases on docker/kind), and starts workers from the
authored store as a pod would receive it; `bundle_uri` is the one URI form they all hand out.
`TRACKS` maps a track name to its backend, imported lazily; the docker and kind tracks add a
row here. Used by `ScenarioContext.backend`.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from contextlib import AbstractContextManager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.context import ScenarioContext
    from harness.distributor import Distributor
    from harness.registry import Registry

    BundleSource = Distributor | Registry

# registries a worker may pull from over plain HTTP: the one variable of a start's `env` that
# every track passes on (the pod tracks as the deployer answer `oci_insecure_registries`)
INSECURE_ENV = "GREENTIC_OCI_INSECURE_REGISTRIES"

# track → "module:Class" of its backend (imported only when a run uses that track)
TRACKS: dict[str, str] = {
    "host": "harness.host.track:HostBackend",
    "docker": "harness.docker.track:DockerBackend",
    "kind": "harness.kube.track:KindBackend",
}


class AddressedSource(Protocol):
    """A bundle source as every track's URIs need it (distributor or registry)."""

    @property
    def scheme(self) -> str: ...

    @property
    def authority(self) -> str: ...


def bundle_uri(source: AddressedSource, name: str) -> str:
    """`<scheme>://<authority>/<name>`: the `bundle_source_uri` of `name` on `source`, as the
    worker addresses it (every backend's `bundle_uri_for`)."""
    return f"{source.scheme}://{source.authority}/{name.lstrip('/')}"


class UnknownTrack(HarnessError):
    """Raised when a scenario is run on a track nobody has implemented."""


class RunningWorker(Protocol):
    """A started worker, wherever it runs. Every check goes through these methods."""

    @property
    def base_url(self) -> str:
        """`http://host:port` where this process can reach the worker's main listener."""
        ...

    def exit_code(self) -> int | None: ...

    def stdout(self) -> str: ...

    def stderr(self) -> str: ...

    def logs(self) -> str:
        """stdout then stderr, for diagnostics."""
        ...

    def wait_banner(self, regex: str, deadline_s: float) -> re.Match[str]:
        """The first stdout line matching `regex`; fails fast if the worker exits first."""
        ...

    def wait_exited(self, deadline_s: float) -> int:
        """The exit code, once the worker exits on its own (boot refused to serve)."""
        ...

    def env_file(self, rel: str) -> bytes | None:
        """The bytes of `<env dir>/<rel>` in the worker's own store, or None when absent."""
        ...

    def stop(self) -> int | None:
        """Stop it (SIGTERM or pod delete); its exit code when known."""
        ...


class WorkerBackend(Protocol):
    """Where workers run on one track."""

    track: str
    capabilities: frozenset[Capability]  # what this track can do beyond starting workers

    def serve_bundles(self, ctx: ScenarioContext, directory: Path) -> Distributor:
        """An HTTP distributor serving `directory`, closed with the run."""
        ...

    def registry(self, ctx: ScenarioContext) -> Registry:
        """A local OCI registry, closed with the run."""
        ...

    def authority_for(self, source: BundleSource) -> str:
        """`host:port` of `source` as the worker sees it (also the insecure-registry entry)."""
        ...

    def bundle_uri_for(self, source: BundleSource, name: str) -> str:
        """The `bundle_source_uri` a worker pulls `name` from (path, or `repo:tag` for OCI)."""
        ...

    def start(
        self,
        ctx: ScenarioContext,
        env_id: str,
        *,
        pod: str = "worker",
        env: dict[str, str] | None = None,
        expect_exit: bool = False,
    ) -> RunningWorker:
        """Boot `start --env <env_id>` from the authored store as a pod receives it: only
        environment.json is delivered; `pod` names the worker's own store (a second start of
        the same pod keeps what the first one materialized, like a container restart)."""
        ...


class Capability(StrEnum):
    """What a track can do beyond starting a worker; a scenario lists the ones it needs in
    `NEEDS` and a track that lacks one skips it with the reason (`missing_capabilities`)."""

    RECONCILE = "reconcile"  # objects applied through the product's Cluster seam (PodBackend)
    READINESS = "readiness"  # a readiness probe the track evaluates (PodWorker.ready)
    RESTARTS = "restarts"  # a refusing worker is restarted with back-off (restarts, crash loop)
    PREVIOUS_LOGS = "previous-logs"  # the output of the last crashed container
    PORT_FORWARD = "port-forward"  # a forward bound to one pod, failing when that pod is gone


@runtime_checkable
class PodWorker(RunningWorker, Protocol):
    """A worker that is a pod: restarted by its kubelet, Ready or not, forwarded to."""

    def ready(self) -> bool:
        """The pod's readiness probe (`GET /healthz` on 8080) passes right now."""
        ...

    def restarts(self) -> int:
        """How often the worker container was restarted."""
        ...

    def wait_crash_loop(self, deadline_s: float) -> str:
        """Until the track reports the worker as crash-looping (never Ready, restarted with
        back-off); the reason as the track names it (`CrashLoopBackOff`, `restart loop`)."""
        ...

    def previous_logs(self) -> str:
        """stdout+stderr of the last container that exited (`kubectl logs --previous`)."""
        ...

    def port_forward(self, port: int) -> AbstractContextManager[str]:
        """`http://127.0.0.1:<local>` forwarded to `port` of THIS pod while the context is open;
        requests fail once the pod is gone (as kubectl's forward does)."""
        ...


@runtime_checkable
class PodBackend(WorkerBackend, Protocol):
    """A track whose workers are the rendered pods of `gtc op env reconcile`."""

    def reconcile(self, ctx: ScenarioContext, env_id: str) -> dict[str, Any]:
        """`greentic.deployer.k8s.verbs.reconcile_env` onto this track's Cluster: the result has
        `applied`, `pruned` and `objects`."""
        ...

    def workloads(self, ctx: ScenarioContext, env_id: str) -> list[str]:
        """Names of the env's Deployments that have a running pod right now."""
        ...

    def worker(self, ctx: ScenarioContext, env_id: str, revision_id: str) -> PodWorker:
        """The worker pod of one revision."""
        ...


def missing_capabilities(backend: WorkerBackend, needs: Iterable[Capability]) -> list[str]:
    """The capabilities in `needs` that `backend` lacks, by name (empty: the scenario runs)."""
    have: frozenset[Capability] = getattr(backend, "capabilities", frozenset())
    return [str(c) for c in needs if c not in have]


def backend_for(track: str) -> WorkerBackend:
    """The backend of `track`, imported on first use."""
    try:
        target = TRACKS[track]
    except KeyError:
        raise UnknownTrack(
            f"no `{track}` track here (known: {', '.join(sorted(TRACKS))})"
            "\nHint: pick one with --track"
        ) from None
    module_name, _, class_name = target.partition(":")
    backend: WorkerBackend = getattr(importlib.import_module(module_name), class_name)()
    return backend
