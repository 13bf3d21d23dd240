"""Cluster DNS for the local node: CoreDNS as an ordinary Deployment behind the `kube-dns` Service.

Pure: `manifests(image=...)` returns the objects to apply (ServiceAccount, RBAC, the Corefile
ConfigMap, the Deployment, the Service); the cluster module applies them. Choices:
- CoreDNS listens on 53 in its pod, as kind's and kubeadm's do: NetworkPolicies match the pod's
  port after kube-proxy's rewrite, so the product's `gtc-allow-dns` (port 53) must see 53 (on
  1053 an enforcing cluster cut DNS: found with kube-router). User 65535 binds it through the
  namespaced safe sysctl `net.ipv4.ip_unprivileged_port_start=53`, with every capability dropped.
- the Corefile answers the cluster domain and the reverse zones only. There is no `forward`:
  test traffic never leaves this machine, so any other name gets SERVFAIL (no plugin serves it).
- `imagePullPolicy: Never`: the image is imported into the node's containerd (`images`), no
  registry is reachable, and a pull attempt would only hide a missing import behind a timeout.
"""

from __future__ import annotations

import ipaddress
from typing import Any

NAMESPACE = "kube-system"
NAME = "coredns"
SERVICE = "kube-dns"
APP_LABEL = {"k8s-app": "kube-dns"}
DNS_PORT = 53  # bound by user 65535 through the pod's ip_unprivileged_port_start sysctl
READY_PORT = 8181
HEALTH_PORT = 8080
USER = 65535
CONFIG_DIR = "/etc/coredns"

Obj = dict[str, Any]


def corefile(domain: str = "cluster.local") -> str:
    """The Corefile: the cluster domain and reverse zones, health, ready, cache; no forward."""
    if not domain or domain.strip(".") != domain or " " in domain:
        raise ValueError(f"not a cluster domain: {domain!r}")
    return f"""\
.:{DNS_PORT} {{
    errors
    health {{
        lameduck 5s
    }}
    ready :{READY_PORT}
    kubernetes {domain} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }}
    cache 30
    loop
    reload
    loadbalance
}}
"""


def _meta(name: str, *, namespaced: bool = True) -> Obj:
    meta: Obj = {"name": name, "labels": dict(APP_LABEL)}
    if namespaced:
        meta["namespace"] = NAMESPACE
    return meta


def rbac() -> list[Obj]:
    """ServiceAccount, the read-only ClusterRole the kubernetes plugin needs, and its binding."""
    role = "system:coredns"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta(role, namespaced=False),
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(role, namespaced=False),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}],
        },
    ]


def container(image: str) -> Obj:
    """The CoreDNS container: unprivileged port, read-only root, every capability dropped."""
    return {
        "name": NAME,
        "image": image,
        "imagePullPolicy": "Never",
        "args": ["-conf", f"{CONFIG_DIR}/Corefile"],
        "ports": [
            {"name": "dns", "containerPort": DNS_PORT, "protocol": "UDP"},
            {"name": "dns-tcp", "containerPort": DNS_PORT, "protocol": "TCP"},
        ],
        "volumeMounts": [{"name": "config-volume", "mountPath": CONFIG_DIR, "readOnly": True}],
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": READY_PORT, "scheme": "HTTP"},
            "periodSeconds": 2,
        },
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": HEALTH_PORT, "scheme": "HTTP"},
            "initialDelaySeconds": 60,
            "timeoutSeconds": 5,
            "failureThreshold": 5,
        },
        "resources": {
            "requests": {"cpu": "50m", "memory": "70Mi"},
            "limits": {"memory": "170Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": USER,
            "runAsGroup": USER,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def deployment(image: str) -> Obj:
    """One replica in kube-system; `dnsPolicy: Default` so CoreDNS never resolves through itself."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(NAME),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(APP_LABEL)},
            "template": {
                "metadata": {"labels": dict(APP_LABEL)},
                "spec": {
                    "serviceAccountName": NAME,
                    "priorityClassName": "system-cluster-critical",
                    "dnsPolicy": "Default",
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
                    "securityContext": {
                        "runAsNonRoot": True,
                        "seccompProfile": {"type": "RuntimeDefault"},
                        "sysctls": [
                            {"name": "net.ipv4.ip_unprivileged_port_start", "value": str(DNS_PORT)}
                        ],
                    },
                    "containers": [container(image)],
                    "volumes": [
                        {
                            "name": "config-volume",
                            "configMap": {
                                "name": NAME,
                                "items": [{"key": "Corefile", "path": "Corefile"}],
                            },
                        }
                    ],
                },
            },
        },
    }


def service(cluster_ip: str) -> Obj:
    """`kube-dns` at the kubelet's `clusterDNS` address: 53/UDP and 53/TCP."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(SERVICE),
        "spec": {
            "selector": dict(APP_LABEL),
            "clusterIP": cluster_ip,
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": DNS_PORT},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": DNS_PORT},
            ],
        },
    }


def manifests(
    *, image: str, cluster_ip: str = "10.96.0.10", domain: str = "cluster.local"
) -> list[Obj]:
    """Every object cluster DNS needs, in apply order (RBAC, config, workload, Service)."""
    if not image:
        raise ValueError("the CoreDNS image reference is empty")
    ipaddress.ip_address(cluster_ip)  # ValueError names the bad address
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(NAME),
        "data": {"Corefile": corefile(domain)},
    }
    return [*rbac(), config, deployment(image), service(cluster_ip)]
