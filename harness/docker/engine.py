"""Docker engine plumbing shared by the pod modules: the client, error translation, labels.

Every docker SDK / requests error of the pod machinery becomes a `PodsError` here, naming what
failed and the fix; containers, volumes and networks carry the `greentic.test/*` labels so a
run can be listed and reaped. Used by harness.docker.pod, .kubelet, .volumes, .pods.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from harness.errors import HarnessError

RUN_LABEL = "greentic.test/run-id"
POD_LABEL = "greentic.test/pod"
DEPLOYMENT_LABEL = "greentic.test/deployment"
NAMESPACE_LABEL = "greentic.test/namespace"
ROLE_LABEL = "greentic.test/role"  # sandbox | init | main | volume
CONTAINER_LABEL = "greentic.test/container"
LOOPBACK = "127.0.0.1"
IMAGES_HINT = "build the local images: `.venv/bin/python -m harness.docker.images`"
ENGINE_HINT = "start the engine with `sudo bash .ci/docker-setup.sh`"


class PodsError(HarnessError):
    """Raised when Docker refuses what a pod needs; the message names the pod and the fix."""


class PodNotReady(PodsError):
    """Raised when a pod does not become Ready in time (with its status and log tail)."""


def client() -> Any:
    """A docker client that answered a ping; PodsError naming the fix otherwise."""
    import docker  # lazy: only the docker track needs the SDK

    try:
        found = docker.from_env(timeout=120)
        found.ping()
    except Exception as exc:  # DockerException, requests errors: all mean "no engine"
        raise PodsError(f"Docker engine not reachable ({exc})\nHint: {ENGINE_HINT}") from None
    return found


@contextlib.contextmanager
def docker_errors(what: str, hint: str = ENGINE_HINT) -> Iterator[None]:
    """The one place docker SDK / requests errors become a PodsError naming what failed."""
    import docker.errors
    import requests

    try:
        yield
    except docker.errors.APIError as exc:
        reason = exc.explanation or str(exc)
        raise PodsError(f"docker refused to {what}: {reason}\nHint: {hint}") from None
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise PodsError(f"docker failed to {what}: {exc}\nHint: {hint}") from None


def not_found() -> type[Exception]:
    import docker.errors

    found: type[Exception] = docker.errors.NotFound
    return found


def is_docker_error(exc: BaseException) -> bool:
    import docker.errors

    return isinstance(exc, docker.errors.DockerException)


def inspect_state(api: Any, container_id: str) -> dict[str, Any] | None:
    """`State` of a container, None when it is gone."""
    try:
        state: dict[str, Any] = api.inspect_container(container_id)["State"]
    except not_found():
        return None
    return state


def logs(api: Any, container_id: str, *, stdout: bool = True, stderr: bool = True) -> str:
    try:
        raw: bytes = api.logs(container_id, stdout=stdout, stderr=stderr)
    except not_found():
        return ""
    return raw.decode("utf-8", "replace")


def remove(api: Any, container_id: str) -> None:
    with contextlib.suppress(not_found()):
        api.remove_container(container_id, force=True, v=True)


def mount(spec: Mapping[str, Any]) -> Any:
    from docker.types import Mount

    return Mount(spec["target"], spec["source"], type=spec["type"], read_only=spec["read_only"])


def redacted_inspect(info: Mapping[str, Any]) -> dict[str, Any]:
    """`docker inspect` output with environment values dropped (only the names stay)."""
    doc = json.loads(json.dumps(info, default=str))
    config = doc.get("Config") or {}
    config["Env"] = [e.split("=", 1)[0] + "=…" for e in config.get("Env") or []]
    return dict(doc)


@contextlib.contextmanager
def suppress_not_found() -> Iterator[None]:
    """Ignore a 404 from the engine (the container is already gone)."""
    with contextlib.suppress(not_found()):
        yield
