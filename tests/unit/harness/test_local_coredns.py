"""Cluster DNS for the local node as data (harness.kube.local.coredns): the objects and their
order, strict OpenAPI validation, the Restricted Pod Security Standard, the Service → container
port wiring, and a Corefile that serves the cluster domain and never forwards off the machine."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_validate import utils as kv

from harness.kube.local import coredns
from tests.support import psa

IMAGE = "greentic.local/coredns:1.12.4"


def objects(**kwargs: Any) -> list[dict[str, Any]]:
    return coredns.manifests(image=IMAGE, **kwargs)


def by_kind(kind: str, objs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    (found,) = [o for o in objs or objects() if o["kind"] == kind]
    return found


def test_the_objects_come_in_apply_order_in_kube_system() -> None:
    assert [(o["kind"], o["metadata"]["name"]) for o in objects()] == [
        ("ServiceAccount", "coredns"),
        ("ClusterRole", "system:coredns"),
        ("ClusterRoleBinding", "system:coredns"),
        ("ConfigMap", "coredns"),
        ("Deployment", "coredns"),
        ("Service", "kube-dns"),
    ]
    for obj in objects():
        cluster_scoped = obj["kind"].startswith("ClusterRole")
        assert ("namespace" in obj["metadata"]) is not cluster_scoped
        assert obj["metadata"].get("namespace", "kube-system") == "kube-system"


@pytest.mark.parametrize("obj", objects(), ids=lambda o: o["kind"])
def test_every_object_validates_strictly(obj: dict[str, Any]) -> None:
    version = kv.latest_version()
    assert kv.validate(obj, version, strict=True) == kv.major_minor(version)


def test_the_pod_passes_restricted_with_no_capability_at_all() -> None:
    ((spec, notes),) = psa.pod_templates(by_kind("Deployment"))
    assert psa.violations(spec, notes) == []
    (ctr,) = spec["containers"]
    ctx = ctr["securityContext"]
    assert ctx["capabilities"] == {"drop": ["ALL"]}  # 53 through the sysctl, not a capability
    assert spec["securityContext"]["sysctls"] == [
        {"name": "net.ipv4.ip_unprivileged_port_start", "value": "53"}
    ]
    assert (ctx["runAsUser"], ctx["runAsNonRoot"], ctx["readOnlyRootFilesystem"]) == (
        65535,
        True,
        True,
    )


def test_the_oracle_would_catch_a_root_or_privileged_coredns() -> None:
    spec = by_kind("Deployment")["spec"]["template"]["spec"]
    ctx = spec["containers"][0]["securityContext"]
    broken = {**spec, "containers": [{**spec["containers"][0], "securityContext": {**ctx}}]}
    broken["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    broken["containers"][0]["securityContext"]["capabilities"] = {"add": ["NET_ADMIN"]}
    assert len(psa.violations(broken)) >= 2


def test_the_deployment_runs_the_imported_image_without_pulling() -> None:
    spec = by_kind("Deployment")["spec"]
    assert spec["replicas"] == 1
    pod = spec["template"]["spec"]
    (ctr,) = pod["containers"]
    assert (ctr["image"], ctr["imagePullPolicy"]) == (IMAGE, "Never")
    assert ctr["args"] == ["-conf", "/etc/coredns/Corefile"]
    assert pod["serviceAccountName"] == "coredns" and pod["dnsPolicy"] == "Default"
    assert pod["volumes"][0]["configMap"]["name"] == by_kind("ConfigMap")["metadata"]["name"]
    assert ctr["volumeMounts"][0]["mountPath"] == "/etc/coredns"
    assert spec["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"]


def test_probes_hit_the_ready_and_health_plugins_ports() -> None:
    (ctr,) = by_kind("Deployment")["spec"]["template"]["spec"]["containers"]
    assert ctr["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8181, "scheme": "HTTP"}
    assert ctr["livenessProbe"]["httpGet"]["path"] == "/health"
    corefile = by_kind("ConfigMap")["data"]["Corefile"]
    assert "ready :8181" in corefile and "health" in corefile


def test_the_service_maps_53_udp_and_tcp_to_the_container_port_at_the_cluster_ip() -> None:
    objs = objects(cluster_ip="10.96.0.53")
    svc = by_kind("Service", objs)
    assert svc["spec"]["clusterIP"] == "10.96.0.53"
    pod = by_kind("Deployment", objs)["spec"]["template"]
    assert svc["spec"]["selector"] == pod["metadata"]["labels"] == {"k8s-app": "kube-dns"}
    container_ports = {
        (p["containerPort"], p["protocol"]) for p in pod["spec"]["containers"][0]["ports"]
    }
    assert {(p["port"], p["protocol"], p["targetPort"]) for p in svc["spec"]["ports"]} == {
        (53, "UDP", 53),
        (53, "TCP", 53),
    }
    # the pod's own port is what a NetworkPolicy sees: the product's gtc-allow-dns allows 53
    assert container_ports == {(53, "UDP"), (53, "TCP")}
    assert by_kind("Service")["spec"]["clusterIP"] == "10.96.0.10"  # the default


def test_the_corefile_serves_the_cluster_zones_on_53_and_forwards_nowhere() -> None:
    corefile = by_kind("ConfigMap")["data"]["Corefile"]
    assert corefile.startswith(".:53 {")
    assert "kubernetes cluster.local in-addr.arpa ip6.arpa {" in corefile
    assert "pods insecure" in corefile
    assert "fallthrough in-addr.arpa ip6.arpa" in corefile
    for plugin in ("cache 30", "loop", "reload", "errors"):
        assert f"\n    {plugin}\n" in corefile
    assert "forward" not in corefile and "/etc/resolv.conf" not in corefile
    assert corefile.count("{") == corefile.count("}")


def test_a_custom_domain_is_served() -> None:
    corefile = by_kind("ConfigMap", objects(domain="test.internal"))["data"]["Corefile"]
    assert "kubernetes test.internal in-addr.arpa ip6.arpa {" in corefile


def test_rbac_grants_only_list_and_watch_on_what_the_kubernetes_plugin_reads() -> None:
    role = by_kind("ClusterRole")
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    reads = [("", r) for r in ("endpoints", "services", "pods", "namespaces")]
    reads.append(("discovery.k8s.io", "endpointslices"))
    assert granted == {(g, r, v) for g, r in reads for v in ("list", "watch")}
    binding = by_kind("ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}
    ]


@pytest.mark.parametrize(
    "kwargs",
    [{"image": ""}, {"image": IMAGE, "cluster_ip": "10.96.0"}, {"image": IMAGE, "domain": ".x."}],
)
def test_bad_arguments_are_value_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        coredns.manifests(**kwargs)


def test_manifests_are_pure() -> None:
    assert objects() == objects()
    first = objects()
    first[0]["metadata"]["labels"]["x"] = "y"
    assert "x" not in objects()[0]["metadata"]["labels"]
