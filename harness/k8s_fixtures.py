"""The in-cluster fixtures of the pod tracks, as real manifests (pure functions → object dicts).

`bundle_server` (busybox httpd `gtc-bundle-server:8080` serving the bundle), `oci_registry`
(`gtc-oci-registry:5000`), `fixture_policies` (the NetworkPolicy allows the fixtures need next
to the env's `gtc-default-deny`, seeds/001 §07) and `connectivity_probe` (the pod-to-pod check
of `harness.preflight`). Every pod passes the Restricted Pod Security Standard. The kind track
applies them, the docker track runs the same manifests as containers (harness/docker); preflight
uses the probe. Validated offline by tests/unit/harness/test_k8s_fixtures.py.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from greentic.deployer.k8s.pods import container_security, pod_security

BUSYBOX = "busybox:1.36.1"
BUNDLE_SERVER = "gtc-bundle-server"
BUNDLE_PORT = 8080
BUNDLE_FILE = "bundle.gtbundle"
BLOB_PREFIX = "gtc-bundle-blob"
CHUNK = 512 * 1024  # ConfigMaps cap at 1 MiB; upstream ships the bytes in 512 KiB chunks
MAX_BUNDLE = 64 * CHUNK  # 32 MiB: fixture bundles are KiB; anything bigger is a mistake
OCI_REGISTRY = "gtc-oci-registry"
OCI_PORT = 5000
REGISTRY_ROOT = "/var/lib/registry"
PART_OF = "greentic-test-fixtures"
PROBE_NAMESPACE_PREFIX = "gtc-preflight"

Obj = dict[str, Any]


# -- shared shapes ---------------------------------------------------------------------------


def labels(name: str) -> dict[str, str]:
    """Fixture labels: never `managed-by: greentic`, so reconcile's prune never sees them."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}


def _meta(name: str, namespace: str, **extra: Any) -> Obj:
    return {"name": name, "namespace": namespace, "labels": labels(name), **extra}


def _resources() -> Obj:
    return {
        "requests": {"cpu": "10m", "memory": "16Mi"},
        "limits": {"cpu": "200m", "memory": "128Mi"},
    }


def _container(name: str, image: str, command: list[str], **extra: Any) -> Obj:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "securityContext": container_security(),
        "resources": _resources(),
        **extra,
    }


def _deployment(name: str, namespace: str, pod_spec: Obj, annotations: dict[str, str]) -> Obj:
    template_meta: Obj = {"labels": labels(name)}
    if annotations:
        template_meta["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, namespace),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels(name)},
            "template": {
                "metadata": template_meta,
                "spec": {"securityContext": pod_security(), **pod_spec},
            },
        },
    }


def _service(name: str, namespace: str, port: int) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, namespace),
        "spec": {
            "type": "ClusterIP",
            "selector": labels(name),
            "ports": [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }


def service_host(name: str, namespace: str) -> str:
    return f"{name}.{namespace}.svc.cluster.local"


# -- the HTTP distributor --------------------------------------------------------------------


def chunks(data: bytes, size: int = CHUNK) -> list[bytes]:
    """`data` in ConfigMap-sized pieces (at least one, so an empty file still assembles)."""
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def bundle_url(namespace: str, filename: str = BUNDLE_FILE) -> str:
    """The `bundle_source_uri` a worker in `namespace` pulls from (upstream's e2e form)."""
    return f"http://{service_host(BUNDLE_SERVER, namespace)}:{BUNDLE_PORT}/{filename}"


def _check_name(filename: str) -> None:
    if not filename or "/" in filename or filename in (".", "..") or "'" in filename:
        raise ValueError(f"filename must be a plain file name, got {filename!r}")


def bundle_server(namespace: str, files: Mapping[str, bytes], *, image: str = BUSYBOX) -> list[Obj]:
    """ConfigMaps with the bytes (binaryData chunks), a busybox httpd Deployment and Service.

    An init container concatenates each file's chunks into an emptyDir the httpd serves
    read-only; the pod template carries a digest of all files, so new bytes (a tampered
    bundle) roll the server. `httpd -vv` logs each request's url for `httpd_hits`.
    """
    if not files:
        raise ValueError("bundle_server needs at least one file")
    total = sum(len(data) for data in files.values())
    if total > MAX_BUNDLE:
        raise ValueError(f"fixture bundles are {total} bytes; the limit is {MAX_BUNDLE}")
    blobs: list[Obj] = []
    scripts: list[str] = []
    for filename in sorted(files):
        _check_name(filename)
        first = len(blobs)
        for part in chunks(files[filename]):
            blobs.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": _meta(f"{BLOB_PREFIX}-{len(blobs)}", namespace),
                    "binaryData": {"part": base64.b64encode(part).decode("ascii")},
                }
            )
        sources = " ".join(f"/blobs/{i}/part" for i in range(first, len(blobs)))
        scripts.append(f"cat {sources} > '/srv/{filename}'")
    mounts = [
        {"name": f"blob-{i}", "mountPath": f"/blobs/{i}", "readOnly": True}
        for i in range(len(blobs))
    ]
    assemble = _container(
        "assemble",
        image,
        ["sh", "-c", "set -eu; " + "; ".join(scripts)],
        volumeMounts=[*mounts, {"name": "www", "mountPath": "/srv"}],
    )
    httpd = _container(
        "httpd",
        image,
        ["httpd", "-f", "-vv", "-p", str(BUNDLE_PORT), "-h", "/srv"],
        ports=[{"name": "http", "containerPort": BUNDLE_PORT}],
        readinessProbe={"tcpSocket": {"port": BUNDLE_PORT}, "periodSeconds": 2},
        volumeMounts=[{"name": "www", "mountPath": "/srv", "readOnly": True}],
    )
    volumes = [
        *(
            {"name": f"blob-{i}", "configMap": {"name": f"{BLOB_PREFIX}-{i}"}}
            for i in range(len(blobs))
        ),
        {"name": "www", "emptyDir": {}},
    ]
    digest = hashlib.sha256()
    for filename in sorted(files):
        digest.update(f"{filename}\0{hashlib.sha256(files[filename]).hexdigest()}\n".encode())
    deployment = _deployment(
        BUNDLE_SERVER,
        namespace,
        {"initContainers": [assemble], "containers": [httpd], "volumes": volumes},
        {"greentic.test/bundle-sha256": digest.hexdigest()},
    )
    return [*blobs, deployment, _service(BUNDLE_SERVER, namespace, BUNDLE_PORT)]


def httpd_hits(log: str, filename: str) -> int:
    """Requests for `/filename` in busybox `httpd -vv` output (`<peer>: url:/<path>` lines)."""
    return sum(1 for line in log.splitlines() if line.rstrip().endswith(f"url:/{filename}"))


# -- the OCI registry ------------------------------------------------------------------------


def registry_authority(namespace: str) -> str:
    """What `oci_insecure_registries` must list for workers to pull over plain HTTP."""
    return f"{service_host(OCI_REGISTRY, namespace)}:{OCI_PORT}"


def oci_ref(namespace: str, repository: str = "bundles/e2e", tag: str = "latest") -> str:
    return f"oci://{registry_authority(namespace)}/{repository}:{tag}"


def oci_registry(namespace: str, *, image: str, command: list[str] | None = None) -> list[Obj]:
    """A registry Deployment + Service on 5000; storage in an emptyDir (read-only root)."""
    env = [
        {"name": "REGISTRY_HTTP_ADDR", "value": f"0.0.0.0:{OCI_PORT}"},
        {"name": "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "value": REGISTRY_ROOT},
    ]
    container: Obj = {
        "name": "registry",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": env,
        "ports": [{"name": "http", "containerPort": OCI_PORT}],
        "readinessProbe": {"httpGet": {"path": "/v2/", "port": OCI_PORT}, "periodSeconds": 2},
        "securityContext": container_security(),
        "resources": _resources(),
        "volumeMounts": [
            {"name": "storage", "mountPath": REGISTRY_ROOT},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    if command is not None:
        container["command"] = command
    pod = {
        "containers": [container],
        "volumes": [{"name": "storage", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
    }
    return [
        _deployment(OCI_REGISTRY, namespace, pod, {}),
        _service(OCI_REGISTRY, namespace, OCI_PORT),
    ]


# -- NetworkPolicies -------------------------------------------------------------------------


def _tcp(*ports: int) -> list[Obj]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def _greentic_pods(env_id: str | None) -> Obj:
    """Router and worker pods (of one env when `env_id` is given)."""
    selector: Obj = {
        "matchExpressions": [
            {"key": "app.kubernetes.io/component", "operator": "In", "values": ["router", "worker"]}
        ]
    }
    if env_id is not None:
        selector["matchLabels"] = {"greentic.ai/env": env_id}
    return selector


def fixture_policies(namespace: str, env_id: str) -> list[Obj]:
    """The allows `gtc-default-deny` makes necessary: fixtures accept the env's pods on
    8080/5000, and those pods may reach the fixtures (even when the env's egress is deny)."""
    fixtures = {"matchLabels": {"app.kubernetes.io/part-of": PART_OF}}
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta("gtc-fixture-allow-ingress", namespace),
        "spec": {
            "podSelector": fixtures,
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"podSelector": _greentic_pods(None)}],
                    "ports": _tcp(BUNDLE_PORT, OCI_PORT),
                }
            ],
        },
    }
    egress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta("gtc-fixture-allow-egress", namespace),
        "spec": {
            "podSelector": _greentic_pods(env_id),
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": fixtures}], "ports": _tcp(BUNDLE_PORT, OCI_PORT)}],
        },
    }
    return [ingress, egress]


# -- the pod-to-pod connectivity probe (preflight) -------------------------------------------

PROBE_SERVER = "probe-server"
PROBE_CLIENT = "probe-client"
PROBE_TRY_S = 3  # seconds one GET of a probe may take


def fetch_script(url: str, *, attempts: int = 30, pause_s: int = 2) -> str:
    """`sh -c` text that GETs `url` until it answers (exit 0) or `attempts` ran out (exit 1).

    Each try is bounded by busybox's `timeout` applet, not `wget -T`: Debian's busybox-static
    1.35 is built without wget's timeout feature and segfaults on `-T` (exit 139), which made
    every probe fail on Debian hosts (tests/unit/harness/test_k8s_fixtures.py runs this one)."""
    return (
        f"i=0; while [ $i -lt {attempts} ]; do timeout {PROBE_TRY_S} wget -q -O- {url} && exit 0; "
        f"i=$((i+1)); sleep {pause_s}; done; exit 1"
    )


def probe_namespace(run_id: str) -> str:
    return f"{PROBE_NAMESPACE_PREFIX}-{run_id.lower()}"[:63].rstrip("-")


def connectivity_probe(namespace: str, *, image: str = BUSYBOX, attempts: int = 30) -> list[Obj]:
    """A namespace, a busybox httpd behind a Service, and a client pod that wgets it.

    The client exits 0 once it read the page (pod phase Succeeded) and 1 after `attempts`
    tries; on hosts with broken same-node pod networking (seeds/001 §05) it fails.
    """
    serve = (
        "mkdir -p /tmp/www && echo ok > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"
    )
    server = _container(
        "httpd",
        image,
        ["sh", "-c", serve],
        ports=[{"name": "http", "containerPort": 8080}],
        volumeMounts=[{"name": "tmp", "mountPath": "/tmp"}],
    )
    url = f"http://{service_host(PROBE_SERVER, namespace)}:8080/"
    fetch = fetch_script(url, attempts=attempts)
    client: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(PROBE_CLIENT, namespace),
        "spec": {
            "restartPolicy": "Never",
            "securityContext": pod_security(),
            "containers": [_container("wget", image, ["sh", "-c", fetch])],
        },
    }
    ns: Obj = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": labels(PROBE_SERVER)},
    }
    pod = {"containers": [server], "volumes": [{"name": "tmp", "emptyDir": {}}]}
    return [
        ns,
        _deployment(PROBE_SERVER, namespace, pod, {}),
        _service(PROBE_SERVER, namespace, 8080),
        client,
    ]
