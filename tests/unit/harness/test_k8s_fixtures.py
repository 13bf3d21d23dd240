"""The in-cluster fixtures as data: strict OpenAPI validation, the Restricted PSS, the bundle
chunking, and — against the env's own rendered policies — that the fixture allows really open
worker → fixture traffic under `gtc-default-deny` (a small NetworkPolicy evaluator)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest
from kubernetes_validate import utils as kv

from greentic.deployer.k8s import render
from greentic.deployer.k8s.answers import K8sAnswers
from greentic.spec.environment import (
    BundleDeployment,
    Environment,
    EnvPackBinding,
    HostConfig,
    Revision,
    RouteBinding,
    TrafficEntry,
    TrafficSplit,
)
from harness import k8s_fixtures as fx
from tests.support import psa

NS = "gtc-local"
BUNDLE = b"PK\x03\x04 fixture bundle bytes" * 100
REV = "01JABCDEFGHJKMNPQRSTVWXYZ0"
DEP = "01JABCDEFGHJKMNPQRSTVWXYZ1"
AT = "2026-01-02T03:04:05.000000Z"


def all_objects() -> list[dict[str, Any]]:
    return [
        *fx.bundle_server(NS, {"bundle.gtbundle": BUNDLE}),
        *fx.bundle_server(NS, {"a.gtbundle": b"x" * (fx.CHUNK * 2 + 10), "b.gtbundle": b"y"}),
        *fx.oci_registry(NS, image="gtc-registry:abc"),
        *fx.fixture_policies(NS, "local"),
        *fx.connectivity_probe(fx.probe_namespace("Run1")),
    ]


@pytest.mark.parametrize("obj", all_objects(), ids=lambda o: f"{o['kind']}-{o['metadata']['name']}")
def test_every_fixture_object_validates_strictly(obj: dict[str, Any]) -> None:
    version = kv.latest_version()
    assert kv.validate(obj, version, strict=True) == kv.major_minor(version)  # type: ignore[arg-type]


def test_every_fixture_pod_passes_the_restricted_standard() -> None:
    pods = [(o["spec"], {}) for o in all_objects() if o["kind"] == "Pod"]
    pods += [t for o in all_objects() for t in psa.pod_templates(o)]
    assert len(pods) >= 5
    for spec, notes in pods:
        assert list(psa.violations(spec, notes)) == []


def test_fixtures_never_carry_the_products_labels() -> None:
    """reconcile prunes by managed-by + env; fixtures must stay invisible to it."""
    for obj in all_objects():
        assert "app.kubernetes.io/managed-by" not in obj["metadata"].get("labels", {})
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == fx.PART_OF


def test_bundle_server_is_a_busybox_httpd_on_8080_named_as_upstream() -> None:
    objs = fx.bundle_server(NS, {"bundle.gtbundle": BUNDLE})
    assert [(o["kind"], o["metadata"]["name"]) for o in objs] == [
        ("ConfigMap", "gtc-bundle-blob-0"),
        ("Deployment", "gtc-bundle-server"),
        ("Service", "gtc-bundle-server"),
    ]
    pod = objs[1]["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "busybox:1.36.1"
    assert pod["containers"][0]["command"] == ["httpd", "-f", "-vv", "-p", "8080", "-h", "/srv"]
    assert objs[2]["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": 8080, "protocol": "TCP"}
    ]
    assert fx.bundle_url(NS) == (
        "http://gtc-bundle-server.gtc-local.svc.cluster.local:8080/bundle.gtbundle"
    )


def test_new_bytes_roll_the_server() -> None:
    def stamp(files: dict[str, bytes]) -> str:
        dep = fx.bundle_server(NS, files)[-2]
        return str(
            dep["spec"]["template"]["metadata"]["annotations"]["greentic.test/bundle-sha256"]
        )

    good = {"v1.gtbundle": BUNDLE, "v2.gtbundle": BUNDLE + b"2"}
    assert stamp(good) == stamp(dict(reversed(good.items())))
    assert stamp(good) != stamp({**good, "v2.gtbundle": BUNDLE + b"3"})


def test_large_bundles_are_split_under_the_configmap_limit_and_reassemble_in_order() -> None:
    data = bytes(range(256)) * 5000  # 1.22 MiB
    objs = fx.bundle_server(NS, {"big.gtbundle": data, "a.gtbundle": b"small"})
    blobs = [o for o in objs if o["kind"] == "ConfigMap"]
    assert [b["metadata"]["name"] for b in blobs] == [f"gtc-bundle-blob-{i}" for i in range(4)]
    parts = [base64.b64decode(b["binaryData"]["part"]) for b in blobs]
    assert all(len(p) <= fx.CHUNK < 1024 * 1024 for p in parts)
    assert parts[0] == b"small" and b"".join(parts[1:]) == data
    init = objs[len(blobs)]["spec"]["template"]["spec"]["initContainers"][0]
    assert init["command"][-1] == (
        "set -eu; cat /blobs/0/part > '/srv/a.gtbundle'; "
        "cat /blobs/1/part /blobs/2/part /blobs/3/part > '/srv/big.gtbundle'"
    )


def test_bundle_server_refuses_what_would_not_fit() -> None:
    with pytest.raises(ValueError, match="limit"):
        fx.bundle_server(NS, {"b": b"x" * (fx.MAX_BUNDLE + 1)})
    for bad in ("../etc/passwd", "", "a'b"):
        with pytest.raises(ValueError, match="plain file name"):
            fx.bundle_server(NS, {bad: b"x"})
    with pytest.raises(ValueError, match="at least one"):
        fx.bundle_server(NS, {})


def test_httpd_hits_counts_requests_of_one_file() -> None:
    log = (
        "[::ffff:10.244.0.7]:40112: url:/v2.gtbundle\n"
        "[::ffff:10.244.0.7]:40112: response:200\n"
        "[::ffff:10.244.0.9]:40120: url:/v2.gtbundle\n"
        "[::ffff:10.244.0.9]:40124: url:/v1.gtbundle\n"
    )
    assert fx.httpd_hits(log, "v2.gtbundle") == 2
    assert fx.httpd_hits(log, "v1.gtbundle") == 1
    assert fx.httpd_hits(log, "gtbundle") == 0


def test_oci_registry_on_5000_with_storage_in_an_emptydir() -> None:
    dep, svc = fx.oci_registry(NS, image="gtc-registry:abc")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "gtc-registry:abc" and "command" not in container
    assert {
        "name": "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY",
        "value": "/var/lib/registry",
    } in container["env"]
    assert svc["metadata"]["name"] == "gtc-oci-registry"
    assert svc["spec"]["ports"][0]["port"] == 5000
    assert fx.registry_authority(NS) == "gtc-oci-registry.gtc-local.svc.cluster.local:5000"
    assert (
        fx.oci_ref(NS)
        == "oci://gtc-oci-registry.gtc-local.svc.cluster.local:5000/bundles/e2e:latest"
    )
    cmd = ["docker-registry", "serve", "/etc/docker/registry/config.yml"]
    assert (
        fx.oci_registry(NS, image="r", command=cmd)[0]["spec"]["template"]["spec"]["containers"][0][
            "command"
        ]
        == cmd
    )


def test_connectivity_probe_client_wgets_the_server_service() -> None:
    ns, _dep, _svc, client = fx.connectivity_probe("gtc-preflight-run1", attempts=3)
    assert ns["metadata"]["name"] == "gtc-preflight-run1"
    assert client["spec"]["restartPolicy"] == "Never"
    script = client["spec"]["containers"][0]["command"][-1]
    url = "http://probe-server.gtc-preflight-run1.svc.cluster.local:8080/"
    assert script == fx.fetch_script(url, attempts=3)
    assert "-T" not in script.split()  # Debian's busybox wget segfaults on -T (test_probe_busybox)
    assert fx.probe_namespace("Run_1") == "gtc-preflight-run_1"[:63]


# -- NetworkPolicy semantics: the env's render + the fixture allows --------------------------


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", "the evaluator only knows In"
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def _port_ok(rule: Mapping[str, Any], port: int) -> bool:
    ports = rule.get("ports")
    return not ports or any(
        p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports
    )


def _allowed(
    policies: list[dict[str, Any]],
    direction: str,
    pod: Mapping[str, str],
    peer: Mapping[str, str],
    port: int,
) -> bool:
    """Same-namespace traffic only: isolated when some policy of `direction` selects `pod`."""
    kind, peers_key = ("Ingress", "from") if direction == "ingress" else ("Egress", "to")
    selecting = [
        p
        for p in policies
        if kind in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], pod)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(direction, []):
            peers = rule.get(peers_key)
            peer_ok = not peers or any(
                "podSelector" in x and _selects(x["podSelector"], peer) for x in peers
            )
            if peer_ok and _port_ok(rule, port):
                return True
    return False


def _env(source: str | None) -> Environment:
    rev = Revision(
        revision_id=REV, env_id="local", bundle_id="b", deployment_id=DEP, sequence=1,
        created_at=AT, bundle_digest="sha256:" + "c5" * 32, bundle_source_uri=source,
        pack_list_lock_ref=f"revisions/{REV}/pack-list.lock", lifecycle="ready",
    )  # fmt: skip
    return Environment(
        environment_id="local",
        name="local",
        host_config=HostConfig(env_id="local"),
        packs=[
            EnvPackBinding(slot="deployer", kind="greentic.deployer.k8s@1.0.0", pack_ref="builtin")
        ],
        bundles=[
            BundleDeployment(
                deployment_id=DEP,
                env_id="local",
                bundle_id="b",
                customer_id="local",
                current_revisions=[REV],
                route_binding=RouteBinding(path_prefixes=["/"]),
                created_at=AT,
            )
        ],
        revisions=[rev],
        traffic_splits=[
            TrafficSplit(
                env_id="local",
                deployment_id=DEP,
                bundle_id="b",
                generation=1,
                entries=[TrafficEntry(revision_id=REV, weight_bps=10_000)],
                updated_at=AT,
                idempotency_key="k",
            )
        ],
    )


def _pod_labels(objs: list[dict[str, Any]], kind: str, name_prefix: str) -> dict[str, str]:
    obj = next(
        o for o in objs if o["kind"] == kind and o["metadata"]["name"].startswith(name_prefix)
    )
    return dict(obj["spec"]["template"]["metadata"]["labels"])


@pytest.mark.parametrize("source", [fx.bundle_url(NS), None])
def test_default_deny_blocks_the_fixture_until_the_fixture_policies_are_added(
    source: str | None,
) -> None:
    rendered = render.objects(_env(source), K8sAnswers(), dev_store=None)
    env_policies = [o for o in rendered if o["kind"] == "NetworkPolicy"]
    assert "gtc-default-deny" in {p["metadata"]["name"] for p in env_policies}
    worker = _pod_labels(rendered, "Deployment", "gtc-worker-")
    router = _pod_labels(rendered, "Deployment", "gtc-router")
    server = _pod_labels(fx.bundle_server(NS, {"b": BUNDLE}), "Deployment", fx.BUNDLE_SERVER)
    registry = _pod_labels(fx.oci_registry(NS, image="r"), "Deployment", fx.OCI_REGISTRY)

    def reaches(
        policies: list[dict[str, Any]], src: dict[str, str], dst: dict[str, str], port: int
    ) -> bool:
        return _allowed(policies, "egress", src, dst, port) and _allowed(
            policies, "ingress", dst, src, port
        )

    with_fixtures = env_policies + fx.fixture_policies(NS, "local")
    assert not reaches(env_policies, worker, server, 8080)  # the fixture's ingress is denied
    for src in (worker, router):
        assert reaches(with_fixtures, src, server, 8080)
        assert reaches(with_fixtures, src, registry, 5000)
    assert not reaches(with_fixtures, server, registry, 5000)  # fixtures stay isolated
    assert not reaches(with_fixtures, worker, server, 22)
