"""What the two rendered-pod tracks (docker, kind) share: one env, one deployer binding.

Both run env `local` as the pods `op env render` yields, bind `greentic.deployer.k8s@1.0.0`
to a locally built runtime image, pass only the insecure-registry list into those pods, pick
the newest routed revision's worker, and serve bundles from the busybox httpd fixture whose
bytes ride in ConfigMaps (`PodDistributor`). Used by harness/docker/track.py and
harness/kube/track.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from harness import k8s_fixtures
from harness.distributor import tampered
from harness.errors import HarnessError
from harness.tracks import INSECURE_ENV

ENV_ID = "local"  # the fixtures share the env's namespace (upstream e2e: gtc-local)
K8S_DEPLOYER = "greentic.deployer.k8s@1.0.0"


# -- pure helpers ------------------------------------------------------------------------------


def deployer_answers(runtime_image: str, insecure: Sequence[str]) -> dict[str, Any]:
    """The `greentic.deployer.k8s@1.0.0` answers for pods that run the local runtime image."""
    doc: dict[str, Any] = {"runtime_image": runtime_image, "image_pull_policy": "IfNotPresent"}
    if insecure:
        doc["oci_insecure_registries"] = list(insecure)
    return doc


def bind_deployer_args(env_id: str, answers_ref: Path) -> tuple[str, ...]:
    """`gtc op env-packs add … slot=deployer` binding the k8s deployer to `answers_ref`."""
    return (
        "env-packs", "add", f"environment_id={env_id}", "slot=deployer",
        f"kind={K8S_DEPLOYER}", "pack_ref=builtin", f"answers_ref={answers_ref}",
    )  # fmt: skip


def newest_revision(revisions: Iterable[Mapping[str, Any]]) -> str | None:
    """The revision_id with the highest sequence, or None when there is none."""
    pool = list(revisions)
    if not pool:
        return None
    return str(max(pool, key=lambda r: int(r.get("sequence", 0)))["revision_id"])


def routed_revision(env_doc: Mapping[str, Any]) -> str | None:
    """The newest revision that carries traffic (its worker is the pod a scenario talks to);
    None when nothing is routed (then only the router runs, serving probes only)."""
    routed = {
        e["revision_id"]
        for s in env_doc.get("traffic_splits", [])
        for e in s.get("entries", [])
        if e.get("weight_bps", 0) > 0
    }
    return newest_revision(
        r for r in env_doc.get("revisions", []) if r.get("revision_id") in routed
    )


def insecure_from(
    env: Mapping[str, str] | None,
    current: Sequence[str],
    *,
    track: str,
    error: type[HarnessError],
) -> list[str]:
    """`GREENTIC_OCI_INSECURE_REGISTRIES` of a start's env becomes the deployer answer; any
    other variable cannot reach a rendered pod (it would have to be rendered): `error`."""
    extra = dict(env or {})
    insecure = list(current)
    if INSECURE_ENV in extra:
        insecure = [a.strip() for a in extra.pop(INSECURE_ENV).split(",") if a.strip()]
    if extra:
        raise error(
            f"the {track} track runs the rendered pods; it cannot inject "
            f"{', '.join(sorted(extra))} into them\nHint: run this scenario with --track host"
        )
    return insecure


# -- the in-network bundle server --------------------------------------------------------------


class Namespaced(Protocol):
    """A pod-track backend, as far as its bundle server needs it."""

    @property
    def namespace(self) -> str: ...


B = TypeVar("B", bound=Namespaced)


@dataclass
class PodDistributor(ABC, Generic[B]):
    """The busybox httpd `gtc-bundle-server` (the `Distributor` surface scenarios use).

    Its bytes ride in ConfigMaps, as upstream's e2e ships them: a publish or a tamper changes
    what is served, and `sync()` (per track) replaces the server pod with the new bytes.
    """

    error: ClassVar[type[HarnessError]]  # the track's error class
    where: ClassVar[str]  # where the httpd runs, as the track says it ("in-network")

    backend: B
    files: dict[str, bytes] = field(default_factory=dict)
    overrides: dict[str, bytes] = field(default_factory=dict)
    scheme: str = "http"

    @property
    def authority(self) -> str:
        """`gtc-bundle-server.<ns>.svc.cluster.local:8080`, the in-network (FQDN) alias."""
        host = k8s_fixtures.service_host(k8s_fixtures.BUNDLE_SERVER, self.backend.namespace)
        return f"{host}:{k8s_fixtures.BUNDLE_PORT}"

    def url_for(self, name: str) -> str:
        return f"http://{self.authority}/{name.lstrip('/')}"

    def publish(self, source: Path, name: str | None = None) -> str:
        name = name or source.name
        self.files[name] = source.read_bytes()
        self.sync()
        return self.url_for(name)

    def tamper(self, name: str, data: bytes | None = None) -> None:
        if name not in self.files:
            raise self.error(f"cannot tamper {name!r}: it is not published")
        self.overrides[name] = data if data is not None else tampered(self.files[name])
        self.sync()

    def served_bytes(self, name: str) -> bytes | None:
        return self.overrides.get(name, self.files.get(name))

    def served(self) -> dict[str, bytes]:
        return {name: self.overrides.get(name, data) for name, data in self.files.items()}

    def fail(self, name: str, *, status: int = 503, times: int = 1) -> None:
        raise self.error(
            f"the {self.where} httpd cannot inject failures"
            "\nHint: run this scenario with --track host"
        )

    @abstractmethod
    def hits(self, name: str) -> int:
        """GETs of `name` logged by the server pod now running (`httpd -vv`)."""

    @abstractmethod
    def sync(self) -> None:
        """Run the server with today's `served()` bytes and wait until it is ready."""
