"""The part of a scenario that differs by track: where the worker runs and what it can do.

A `WorkerBackend` serves bundles (distributor, registry), says which URI a worker pulls them
from (loopback on host; in-network aliases on docker/kind), and starts workers from the
authored store as a pod would receive it. Each backend class declares its `capabilities`;
a scenario lists the ones it needs in `NEEDS` and asks `ctx.can(...)` where tracks behave
differently — never which track it is. A `PodBackend` adds reconcile/workloads/worker and
its workers are `PodWorker`s.

Backends see a run only through `RunScope` (a `ScenarioContext` is one), so this module never
imports `harness.context`: the runner builds the backend (`backend_for`) and injects it.
`TRACKS` maps a track name to its backend class, imported on first use.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, ExitStack
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.artifacts import Artifacts
    from harness.distributor import Distributor
    from harness.kept import Kept
    from harness.registry import Registry

    BundleSource = Distributor | Registry

# registries a worker may pull from over plain HTTP: the one variable of a start's `env` that
# every track passes on (the pod tracks as the deployer answer `oci_insecure_registries`)
INSECURE_ENV = "GREENTIC_OCI_INSECURE_REGISTRIES"

# track → "module:Class" of its backend (imported only when a run uses that track). The order
# is the demo's preference when a verb is run without --track: the first track that has
# every capability the scenario needs (host, then the real cluster, then docker).
TRACKS: dict[str, str] = {
    "host": "harness.host.track:HostBackend",
    "kind": "harness.kube.track:KindBackend",
    "docker": "harness.docker.track:DockerBackend",
}


class Capability(StrEnum):
    """What a track can do beyond starting a worker; a scenario lists the ones it needs in
    `NEEDS` (a track that lacks one skips it with the reason) and asks `ctx.can(...)` where
    tracks differ. Pod tracks declare `POD_CAPABILITIES`; the host `HOST_CAPABILITIES`."""

    RECONCILE = "reconcile"  # objects applied through the product's Cluster seam (PodBackend)
    READINESS = "readiness"  # a readiness probe the track evaluates (PodWorker.ready)
    RESTARTS = "restarts"  # a refusing worker is restarted with back-off (restarts, crash loop)
    PREVIOUS_LOGS = "previous-logs"  # the output of the last crashed container
    PORT_FORWARD = "port-forward"  # a forward bound to one pod, failing when that pod is gone
    # each routed revision's worker is its own pod: booting a new revision leaves the earlier
    # pod serving (without it the next boot is the same worker, restarted on the same store)
    POD_PER_REVISION = "pod-per-revision"
    # the worker is a process on this machine: it can outlive the run, kept by pid and
    # stopped later by `host-stop` (harness.kept)
    LOCAL_PROCESS = "local-process"
    # fakes stand in for the internet in front of the worker: a fake cloudflared it spawns
    # (its edge reachable by the fake Telegram Bot API) and that Bot API at an address it can
    # reach. The host runs both locally; a pod track needs `PodFakeInternet` (harness.fakenet)
    FAKE_INTERNET = "fake-internet"
    # a bundle source's Service can be deleted and applied again (`ServiceCut`), so its name
    # stops resolving on the pod network: the docker track's network cut for a pod without
    # egress, where NetworkPolicies are not enforced (scenarios/repro_crashloop_egress.py)
    SERVICE_CUT = "service-cut"
    # the cluster enforces NetworkPolicies (a deny really drops traffic). DETECTED, not assumed:
    # a cluster backend's class declares it may have it, its built instance only when its probe
    # saw a deny-all drop a request (harness.kube.netpol); the docker track never enforces
    NETWORK_POLICY = "network-policy"


# every pod capability; FAKE_INTERNET only where the backend implements PodFakeInternet,
# NETWORK_POLICY only where a probe of the cluster detected enforcement
POD_CAPABILITIES: frozenset[Capability] = frozenset(Capability) - {
    Capability.LOCAL_PROCESS,
    Capability.FAKE_INTERNET,
    Capability.SERVICE_CUT,
    Capability.NETWORK_POLICY,
}
HOST_CAPABILITIES: frozenset[Capability] = frozenset(
    {Capability.LOCAL_PROCESS, Capability.FAKE_INTERNET}
)


class UnknownTrack(HarnessError):
    """Raised when a scenario is run on a track nobody has implemented."""


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


class RunScope(Protocol):
    """One run as a backend sees it: where to write, what to close, what to keep.
    `harness.context.ScenarioContext` is one; tests may pass a smaller object."""

    @property
    def run_id(self) -> str: ...

    @property
    def work_dir(self) -> Path: ...

    @property
    def store_root(self) -> Path:
        """The authored store (`gtc op` wrote it); a pod receives only environment.json."""
        ...

    @property
    def artifacts(self) -> Artifacts: ...

    @property
    def keep(self) -> bool:
        """Leave what the run started running (demo host-pull)."""
        ...

    @property
    def stack(self) -> ExitStack:
        """Closed when the run ends: servers, pods, processes go on it."""
        ...

    @property
    def notes(self) -> list[str]: ...

    def keep_running(self, kept: Kept) -> None:
        """Record a process left serving on purpose (host-stop stops it)."""
        ...


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
    """Where workers run on one track. `track` and `capabilities` are class attributes: the
    runner reads them before it builds the backend (building kind's creates a cluster)."""

    track: str
    capabilities: frozenset[Capability]

    def serve_bundles(self, scope: RunScope, directory: Path) -> Distributor:
        """An HTTP distributor serving `directory`, closed with the run."""
        ...

    def registry(self, scope: RunScope) -> Registry:
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
        scope: RunScope,
        env_id: str,
        *,
        pod: str = "worker",
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
        expect_exit: bool = False,
    ) -> RunningWorker:
        """Boot `start --env <env_id>` from the authored store as a pod receives it: only
        environment.json is delivered; `pod` names the worker's own store (a second start of
        the same pod keeps what the first one materialized, like a container restart).
        `args` are extra `start` flags: only a `LOCAL_PROCESS` track takes them (a pod's args
        are rendered), the others refuse them as they refuse `env` beyond `INSECURE_ENV`."""
        ...


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

    def start(
        self,
        scope: RunScope,
        env_id: str,
        *,
        pod: str = "worker",
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
        expect_exit: bool = False,
    ) -> PodWorker:
        """Reconcile the env, then the routed revision's worker pod (the router without one)."""
        ...

    def reconcile(self, scope: RunScope, env_id: str) -> dict[str, Any]:
        """`greentic.deployer.k8s.verbs.reconcile_env` onto this track's Cluster: the result has
        `applied`, `pruned` and `objects`."""
        ...

    def workloads(self, scope: RunScope, env_id: str) -> list[str]:
        """Names of the env's Deployments that have a running pod right now."""
        ...

    def worker(self, scope: RunScope, env_id: str, revision_id: str) -> PodWorker:
        """The worker pod of one revision."""
        ...


# -- choosing a track ----------------------------------------------------------------------


def missing_capabilities(
    have: frozenset[Capability], needs: Iterable[Capability]
) -> tuple[Capability, ...]:
    """The capabilities in `needs` that `have` lacks, in `needs` order (empty: it runs)."""
    return tuple(c for c in dict.fromkeys(needs) if c not in have)


def backend_class(track: str) -> type[Any]:
    """The backend class of `track`, imported on first use (not built)."""
    try:
        target = TRACKS[track]
    except KeyError:
        raise UnknownTrack(
            f"no `{track}` track here (known: {', '.join(TRACKS)})\nHint: pick one with --track"
        ) from None
    module_name, _, class_name = target.partition(":")
    cls: type[Any] = getattr(importlib.import_module(module_name), class_name)
    return cls


def capabilities_of(track: str) -> frozenset[Capability]:
    """What `track` can do, as its backend class declares it (without building it)."""
    cls = backend_class(track)
    declared = getattr(cls, "capabilities", None)
    if not isinstance(declared, frozenset) or not all(isinstance(c, Capability) for c in declared):
        raise HarnessError(
            f"{cls.__module__}.{cls.__name__} declares no `capabilities`"
            "\nHint: add `capabilities = tracks.POD_CAPABILITIES` (or what it has) to the class"
        )
    return declared


def tracks_with(needs: Iterable[Capability]) -> list[str]:
    """The tracks that have every capability in `needs`, in `TRACKS` (preference) order."""
    wanted = tuple(needs)
    return [t for t in TRACKS if not missing_capabilities(capabilities_of(t), wanted)]


def backend_for(track: str) -> WorkerBackend:
    """A new backend of `track` (the runner injects it into the run's context)."""
    backend: WorkerBackend = backend_class(track)()
    return backend
