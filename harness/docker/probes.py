"""Readiness probes of a docker pod, run from the host when asked (not on `periodSeconds`).

HTTP and TCP go through the pod's published loopback port; exec runs in the container. Used by
harness.docker.pod.Pod.ready.
"""

from __future__ import annotations

import socket
from typing import Any, Protocol

import httpx

from harness.docker import engine
from harness.docker.engine import LOOPBACK, PodsError
from harness.docker.podspec import Probe


class ProbeTarget(Protocol):
    """What a probe needs of a pod (`harness.docker.pod.Pod`): its published URLs and ports,
    its containers and the engine client of its owner."""

    @property
    def owner(self) -> Any: ...

    def url(self, port: int) -> str: ...

    def host_port(self, port: int) -> int: ...

    def container_id(self, container: str | None = None) -> str | None: ...


TCP_PROBE_SETTLE_S = 0.2


def passes(pod: ProbeTarget, container: str, probe: Probe | None) -> bool:
    """The readiness probe of `container` passes right now (no probe: it does)."""
    if probe is None:
        return True
    try:
        if probe.action == "http":
            return _http(pod, probe)
        if probe.action == "tcp":
            return _tcp(pod, probe)
        return _exec(pod, container, probe)
    except (httpx.HTTPError, OSError, PodsError):
        return False
    except Exception as exc:
        if engine.is_docker_error(exc):
            return False
        raise


def _http(pod: ProbeTarget, probe: Probe) -> bool:
    url = f"{pod.url(probe.port or 0)}{probe.path}"
    with httpx.Client(timeout=probe.timeout_s, trust_env=False) as client:
        return 200 <= client.get(url).status_code < 400


def _tcp(pod: ProbeTarget, probe: Probe) -> bool:
    """A TCP connect through the published port. Docker's userland proxy accepts even when
    nothing listens in the pod, then closes at once: an immediate EOF is a refusal."""
    address = (LOOPBACK, pod.host_port(probe.port or 0))
    with socket.create_connection(address, timeout=probe.timeout_s) as sock:
        sock.settimeout(TCP_PROBE_SETTLE_S)
        try:
            return sock.recv(1) != b""
        except TimeoutError:
            return True  # still open: something accepted it


def _exec(pod: ProbeTarget, container: str, probe: Probe) -> bool:
    container_id = pod.container_id(container)
    if container_id is None:
        return False
    api = pod.owner.api
    result = api.exec_create(container_id, list(probe.command))
    api.exec_start(result["Id"])
    return int(api.exec_inspect(result["Id"]).get("ExitCode") or 0) == 0
