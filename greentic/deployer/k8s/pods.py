"""The pod spec the router and worker Deployments share (SPEC §6.3) — pure, like render.

Restricted Pod Security (non-root UID, RuntimeDefault seccomp, read-only root, no
capabilities), HOME staged by busybox init containers from the env-store ConfigMap (and the
dev-store Secret on workers when a dev-store secrets slot is bound), the worker's env vars and
its readiness probe. `pod_spec(Pod(...), "worker", rev)`; render builds the objects around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from greentic.deployer.k8s import naming
from greentic.deployer.k8s.answers import K8sAnswers
from greentic.spec.environment import Revision

SERVE_PORT = 8080
ADMIN_PORT = SERVE_PORT + 1  # the worker's loopback admin listener when tunneled
STAGE_HOME = "/var/greentic"
ENV_STORE_SRC = "/etc/greentic/env-store"
DEV_SECRETS_SRC = "/etc/greentic/dev-secrets"
STAGE_INIT_IMAGE = "busybox:1.36.1"
CLOUDFLARED_BINARY = "/usr/local/bin/cloudflared"
RAYON_THREADS = "4"
DEV_SECRETS_KEY = ".dev.secrets.env"
UID = 65532


@dataclass(frozen=True)
class Pod:
    """What a pod spec depends on: the env, its deployer answers, whether secrets are staged."""

    env_id: str
    answers: K8sAnswers
    stages_dev_store: bool

    @property
    def home_env(self) -> str:
        return f"{STAGE_HOME}/.greentic/environments/{self.env_id}"


# Builders below return fresh dicts: no sub-object is shared between (or within) pod specs.


def pod_security() -> dict[str, Any]:
    """The Restricted Pod Security context of a pod (the harness's fixture pods wear it too)."""
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> dict[str, Any]:
    """The Restricted Pod Security context of a container (fixtures' containers too)."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _resources() -> dict[str, Any]:
    return {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }


def _env_vars(pod: Pod, rev: Revision | None) -> list[dict[str, str]]:
    pairs = [
        ("GREENTIC_ENV_ID", pod.env_id),
        ("HOME", STAGE_HOME),
        ("GREENTIC_GATEWAY_LISTEN_ADDR", "0.0.0.0"),
        ("RAYON_NUM_THREADS", RAYON_THREADS),
    ]
    if pod.answers.oci_insecure_registries:
        pairs.append(
            ("GREENTIC_OCI_INSECURE_REGISTRIES", ",".join(pod.answers.oci_insecure_registries))
        )
    if rev is not None:
        pairs += [
            ("GREENTIC_REVISION_ID", rev.revision_id),
            ("GREENTIC_DEPLOYMENT_ID", rev.deployment_id),
            ("GREENTIC_BUNDLE_ID", rev.bundle_id),
            ("GREENTIC_BUNDLE_DIGEST", rev.bundle_digest),
        ]
    return [{"name": k, "value": v} for k, v in pairs]


def _init(name: str, script: str, src_volume: str, src_path: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": STAGE_INIT_IMAGE,
        "command": ["sh", "-c", script],
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": src_volume, "mountPath": src_path, "readOnly": True},
            {"name": "greentic-home", "mountPath": STAGE_HOME},
        ],
    }


def _stage_env_store(pod: Pod) -> dict[str, Any]:
    script = (
        f"set -eu; mkdir -p '{pod.home_env}'; "
        f"cp {ENV_STORE_SRC}/environment.json '{pod.home_env}/environment.json'"
    )
    return _init("stage-env-store", script, "env-store-src", ENV_STORE_SRC)


def _stage_dev_secrets(pod: Pod) -> dict[str, Any]:
    src = f"{DEV_SECRETS_SRC}/{DEV_SECRETS_KEY}"
    dst = f"{pod.home_env}/.greentic/dev"
    script = (
        f"set -eu; mkdir -p '{dst}'; "
        f"if [ -f '{src}' ]; then cp '{src}' '{dst}/{DEV_SECRETS_KEY}'; fi"
    )
    return _init("stage-dev-secrets", script, "dev-secrets-src", DEV_SECRETS_SRC)


def pod_spec(pod: Pod, container: str, rev: Revision | None) -> dict[str, Any]:
    """Router (rev None) or worker pod: restricted security, staged HOME, readiness probe."""
    args = ["start", "--env", pod.env_id]
    ports = [{"name": "http", "containerPort": SERVE_PORT}]
    if rev is not None and pod.answers.tunnel == "cloudflared":
        args += ["--cloudflared", "on", "--cloudflared-binary", CLOUDFLARED_BINARY]
        # the loopback-only admin listener (/chat, /workers/invoke): `kubectl port-forward 8081`
        ports.append({"name": "admin", "containerPort": ADMIN_PORT})
    main: dict[str, Any] = {"name": container, "image": pod.answers.runtime_image}
    if pod.answers.image_pull_policy:
        main["imagePullPolicy"] = pod.answers.image_pull_policy
    main |= {
        "args": args,
        "securityContext": container_security(),
        "resources": _resources(),
        "ports": ports,
        "env": _env_vars(pod, rev),
        "volumeMounts": [
            {"name": "greentic-home", "mountPath": STAGE_HOME},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        "readinessProbe": {
            "httpGet": {"path": "/healthz", "port": SERVE_PORT},
            "initialDelaySeconds": 2,
            "periodSeconds": 5,
        },
    }
    stage_secrets = rev is not None and pod.stages_dev_store
    inits = [_stage_env_store(pod)] + ([_stage_dev_secrets(pod)] if stage_secrets else [])
    volumes: list[dict[str, Any]] = [
        {"name": "greentic-home", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
        {"name": "env-store-src", "configMap": {"name": naming.ENV_STORE}},
    ]
    if stage_secrets:
        volumes.append(
            {
                "name": "dev-secrets-src",
                "secret": {"secretName": naming.DEV_SECRETS, "optional": True},
            }
        )
    spec: dict[str, Any] = {"securityContext": pod_security()}
    if rev is None:
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": naming.common_labels(pod.env_id, "router")},
            }
        ]
    if pod.answers.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in pod.answers.image_pull_secrets]
    spec |= {"initContainers": inits, "containers": [main], "volumes": volumes}
    return spec
