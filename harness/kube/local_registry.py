"""kind's local-registry recipe (https://kind.sigs.k8s.io/docs/user/local-registry/) as data.

A `registry:2` container on the `kind` docker network, published on `127.0.0.1:<port>`; every
node's containerd reads `certs.d/localhost:<port>/hosts.toml`, which sends pulls of
`localhost:<port>/…` to the container; the `local-registry-hosting` ConfigMap advertises it.
Pure functions only (documents and the docker argv); `KindCluster` runs them.
"""

from __future__ import annotations

import re
from typing import Any

from harness.kube.commands import parse_lines

RUN_LABEL = "greentic.test/run-id"  # on every container a run creates, so `reap` finds them
KIND_NETWORK = "kind"
REGISTRY_CONTAINER_PORT = 5000
CERTS_DIR = "/etc/containerd/certs.d"
CONTAINERD_PATCH = f'[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "{CERTS_DIR}"'
REGISTRY_HELP = "https://kind.sigs.k8s.io/docs/user/local-registry/"


def registry_name(name: str) -> str:
    """The local registry container that serves cluster `name` (on the `kind` network)."""
    return f"{name}-registry"


# -- documents -------------------------------------------------------------------------------


def hosts_toml(registry: str, *, container_port: int = REGISTRY_CONTAINER_PORT) -> str:
    """containerd's hosts.toml for `localhost:<port>`: pull from the registry container."""
    return f'[host."http://{registry}:{container_port}"]\n'


def hosts_dir(host_port: int) -> str:
    """Where each node reads the mirror config for `localhost:<host_port>`."""
    return f"{CERTS_DIR}/localhost:{host_port}"


def registry_hosting_configmap(host_port: int) -> dict[str, Any]:
    """The `local-registry-hosting` ConfigMap (KEP-1755) that advertises the local registry."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "local-registry-hosting", "namespace": "kube-public"},
        "data": {
            "localRegistryHosting.v1": f'host: "localhost:{host_port}"\nhelp: "{REGISTRY_HELP}"\n'
        },
    }


def local_image_ref(host_port: int, tag: str) -> str:
    """`localhost:<port>/<repo>:<tag>`: how nodes address an image pushed to the local registry."""
    repo = tag.split("/")[-1]
    return f"localhost:{host_port}/{repo}"


# -- docker command lines --------------------------------------------------------------------


def registry_run_cmd(
    name: str, image: str, host_port: int, *, run_id: str, container_port: int = 5000
) -> list[str]:
    return [
        "docker",
        "run",
        "-d",
        "--name",
        name,
        "--label",
        f"{RUN_LABEL}={run_id}",
        "-p",
        f"127.0.0.1:{host_port}:{container_port}",
        image,
    ]


def network_connect_cmd(container: str, network: str = KIND_NETWORK) -> list[str]:
    return ["docker", "network", "connect", network, container]


def write_hosts_toml_cmd(node: str, host_port: int) -> list[str]:
    """Write stdin to `<certs.d>/localhost:<port>/hosts.toml` inside one node container."""
    directory = hosts_dir(host_port)
    return [
        "docker",
        "exec",
        "-i",
        node,
        "sh",
        "-c",
        f"mkdir -p '{directory}' && cat > '{directory}/hosts.toml'",
    ]


def docker_rm_cmd(container: str) -> list[str]:
    return ["docker", "rm", "-f", container]


def docker_port_cmd(container: str, container_port: int = REGISTRY_CONTAINER_PORT) -> list[str]:
    return ["docker", "port", container, f"{container_port}/tcp"]


def docker_containers_by_label_cmd(run_id: str) -> list[str]:
    return ["docker", "ps", "-aq", "--filter", f"label={RUN_LABEL}={run_id}"]


def docker_tag_cmd(source: str, target: str) -> list[str]:
    return ["docker", "tag", source, target]


def docker_push_cmd(tag: str) -> list[str]:
    return ["docker", "push", tag]


def parse_host_port(docker_port_output: str) -> int | None:
    """The host port from `docker port` output (`127.0.0.1:41234`), None when unmapped."""
    for line in parse_lines(docker_port_output):
        match = re.search(r":(\d+)$", line)
        if match:
            return int(match.group(1))
    return None
