"""The docker track's local images: built by harness.docker.images, and they do what pods need.

busybox serves a file over httpd to another container by network alias (the in-network
bundle pull), the registry answers the distribution API, and the runtime image imports
greentic as uid 65532 on a read-only root with no capabilities (the pods' securityContext).
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from harness.docker import images

RUN_LABEL = "greentic.test/run-id"
# A cold build (debootstrap + wheels) takes about a minute; the default 120 s is too tight.
COLD_BUILD_TIMEOUT_S = 1200
pytestmark = [pytest.mark.docker, pytest.mark.timeout(COLD_BUILD_TIMEOUT_S)]


@pytest.fixture(scope="module")
def built() -> images.Images:
    return images.ensure_all()


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    import docker

    c = docker.from_env()
    yield c
    c.close()


@pytest.fixture
def run_id(client: Any) -> Iterator[str]:
    """A label on every container/network of one test, swept afterwards even on failure."""
    rid = f"images-{uuid.uuid4().hex[:8]}"
    yield rid
    for container in client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={rid}"}):
        container.remove(force=True, v=True)
    for network in client.networks.list(filters={"label": f"{RUN_LABEL}={rid}"}):
        network.remove()


@pytest.fixture
def network(client: Any, run_id: str) -> str:
    name = f"gtc-{run_id}"
    client.networks.create(name, driver="bridge", labels={RUN_LABEL: run_id})
    return name


def run_to_end(client: Any, image: str, command: list[str], **kwargs: Any) -> tuple[int, str]:
    """Run a container to completion; its exit code and combined output."""
    container = client.containers.run(image, command, detach=True, **kwargs)
    try:
        status = container.wait(timeout=60)
        return int(status["StatusCode"]), container.logs().decode(errors="replace")
    finally:
        container.remove(force=True, v=True)


def test_ensure_all_builds_the_four_images_once(built: images.Images, client: Any) -> None:
    assert built.base.startswith(f"{images.BASE_REPO}:{images.SUITE}-")
    assert built.busybox == images.BUSYBOX_TAG
    assert built.registry.startswith(f"{images.REGISTRY_REPO}:")
    assert built.runtime.startswith(f"{images.RUNTIME_REPO}:")
    for tag in dataclasses.asdict(built).values():
        assert client.images.get(tag).id
    # A second call reuses everything: same tags, and no rebuild (same image ids).
    source_before = images.source_digest()
    first = images.ensure_all()
    first_ids = {tag: client.images.get(tag).id for tag in dataclasses.asdict(first).values()}
    again = images.ensure_all()
    reused = ["base", "busybox", "registry"]
    if images.source_digest() == source_before:  # else greentic/ was edited: a new runtime
        reused.append("runtime")
    for name in reused:
        tag = getattr(first, name)
        assert getattr(again, name) == tag
        assert client.images.get(tag).id == first_ids[tag]


def test_runtime_image_metadata_matches_the_pod_contract(built: images.Images, client: Any) -> None:
    config = client.images.get(built.runtime).attrs["Config"]
    assert config["Entrypoint"] == ["greentic-start"]
    assert config["User"] == "65532:65532"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["HOME"] == "/var/greentic"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_busybox_httpd_serves_another_container_by_alias(
    built: images.Images, client: Any, network: str, run_id: str
) -> None:
    token = secrets.token_hex(8)
    alias = "gtc-bundle-server"
    serve = (
        f"mkdir -p /tmp/www/b && echo {token} > /tmp/www/b/src.txt"
        " && cp /tmp/www/b/src.txt /tmp/www/b/bundle.txt && exec httpd -f -p 8080 -h /tmp/www"
    )
    client.containers.run(
        built.busybox,
        ["sh", "-c", serve],
        detach=True,
        user="65532:65532",
        network=network,
        labels={RUN_LABEL: run_id},
        name=f"{run_id}-httpd",
    )
    # Attach the alias the way the docker track maps a Service: short and cluster-DNS forms.
    client.networks.get(network).disconnect(f"{run_id}-httpd")
    client.networks.get(network).connect(
        f"{run_id}-httpd", aliases=[alias, f"{alias}.gtc-demo.svc.cluster.local"]
    )
    fetch = (
        "for i in $(seq 1 50); do"
        f" wget -q -O- http://{alias}.gtc-demo.svc.cluster.local:8080/b/bundle.txt && exit 0;"
        " sleep 0.2; done; exit 1"
    )
    code, out = run_to_end(
        client, built.busybox, ["sh", "-c", fetch], network=network, labels={RUN_LABEL: run_id}
    )
    assert (code, out.strip()) == (0, token)


def test_registry_answers_the_distribution_api_in_network(
    built: images.Images, client: Any, network: str, run_id: str
) -> None:
    client.containers.run(
        built.registry,
        detach=True,
        network=network,
        labels={RUN_LABEL: run_id},
        name=f"{run_id}-registry",
    )
    client.networks.get(network).disconnect(f"{run_id}-registry")
    client.networks.get(network).connect(f"{run_id}-registry", aliases=["oci-registry"])
    probe = (
        "for i in $(seq 1 50); do"
        " wget -S -q -O- http://oci-registry:5000/v2/ 2>&1 && exit 0; sleep 0.2; done; exit 1"
    )
    code, out = run_to_end(
        client, built.busybox, ["sh", "-c", probe], network=network, labels={RUN_LABEL: run_id}
    )
    assert code == 0, out
    assert "HTTP/1.1 200 OK" in out
    assert "Docker-Distribution-Api-Version: registry/2.0" in out


def test_runtime_image_imports_greentic_under_the_pod_security_context(
    built: images.Images, client: Any, run_id: str
) -> None:
    script = "import greentic, os; print(os.getuid(), os.getgid(), greentic.__name__)"
    code, out = run_to_end(
        client,
        built.runtime,
        ["-c", script],
        entrypoint=["python3"],
        user="65532:65532",
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        labels={RUN_LABEL: run_id},
    )
    assert (code, out.strip()) == (0, "65532 65532 greentic"), out
