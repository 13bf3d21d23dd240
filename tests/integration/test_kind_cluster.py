"""The cluster plumbing against a REAL cluster (`pytest -m kind`): kind in kind.yml, the local
cluster in `.ci/run` (`--provider local`), or an existing one.

Checks what only a cluster can: pod-to-pod traffic works, the port-forward survives a rollout,
the artifacts of a run are collected (with the provider's node logs), and on kind the
local-registry recipe really serves pulls. The unit tests cover the same code against a
scripted kubectl.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from harness import k8s_fixtures, preflight
from harness.artifacts import default_root
from harness.kube import clusters
from harness.kube.commands import SubprocessRunner
from harness.kube.kind import KindCluster
from harness.kube.local_registry import hosts_dir, hosts_toml
from harness.kube.portforward import PortForward
from harness.kube.providers import Provider

pytestmark = [pytest.mark.kind, pytest.mark.slow, pytest.mark.timeout(1800)]
# under the directory kind.yml uploads (`$GTC_ARTIFACTS`, else <repo>/artifacts), not tmp_path
ARTIFACTS = default_root(Path(__file__).resolve().parents[2]) / "kind-cluster-tests"


@dataclass(frozen=True)
class Cluster:
    """The session's provider and the busybox ref its pods can run."""

    provider: Provider
    busybox: str
    registry_image: str


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    from harness.docker import images

    built = images.ensure_all()
    provider = clusters.session_provider(
        clusters.cluster_options(), runner=SubprocessRunner(), registry_image=lambda: built.registry
    )
    yield Cluster(provider, provider.image_ref(built.busybox), built.busybox)
    if request.session.testsfailed:  # this module's failures: the cluster's evidence, node logs too
        provider.collect_artifacts(ARTIFACTS / "on-failure" / provider.context)


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    ns = f"gtc-kindtest-{secrets.token_hex(3)}"
    cluster.provider.kubectl("create", "namespace", ns)
    yield ns
    cluster.provider.kubectl("delete", "namespace", ns, "--wait=false")


def test_the_local_registry_recipe_serves_pulls(cluster: Cluster, namespace: str) -> None:
    kc = cluster.provider
    if not isinstance(kc, KindCluster):
        pytest.skip(f"kind's local-registry recipe; the `{kc.provider}` provider has none")
    assert kc.registry_port is not None
    for node in kc.nodes():
        cat = ["docker", "exec", node, "cat", f"{hosts_dir(kc.registry_port)}/hosts.toml"]
        assert kc.runner.run(cat, timeout=30).stdout == hosts_toml(kc.registry)
    cm = kc.kubectl("-n", "kube-public", "get", "configmap", "local-registry-hosting", "-o", "json")
    hosting = json.loads(cm.stdout)["data"]["localRegistryHosting.v1"]
    assert f'host: "localhost:{kc.registry_port}"' in hosting
    ref = kc.push_image(cluster.registry_image)
    kc.kubectl(
        "-n", namespace, "run", "from-registry", "--image", ref, "--image-pull-policy=Always",
        "--restart=Never", "--command", "--", "sh", "-c", "echo pulled",
    )  # fmt: skip
    kc.kubectl(
        "-n", namespace, "wait", "pod/from-registry",
        "--for=jsonpath={.status.phase}=Succeeded", "--timeout=180s", timeout=240,
    )  # fmt: skip
    assert "pulled" in kc.kubectl("-n", namespace, "logs", "pod/from-registry").stdout


def test_pods_reach_each_other(cluster: Cluster) -> None:
    kc = cluster.provider
    ns = k8s_fixtures.probe_namespace(secrets.token_hex(3))
    finding = preflight.check_pod_network(preflight.RealHost(), kc.kubectl_argv(), ns)
    assert finding.ok, finding.line()


def test_the_port_forward_follows_a_rollout(cluster: Cluster, namespace: str) -> None:
    kc = cluster.provider

    def serve(text: bytes) -> None:
        kc.apply(k8s_fixtures.bundle_server(namespace, {"x": text}, image=cluster.busybox))
        kc.kubectl(
            "-n", namespace, "rollout", "status", f"deployment/{k8s_fixtures.BUNDLE_SERVER}",
            "--timeout=180s", timeout=240,
        )  # fmt: skip

    def get(base: str) -> httpx.Response:
        return httpx.get(f"{base}/x", timeout=5, trust_env=False)

    serve(b"before")
    selector = f"app.kubernetes.io/name={k8s_fixtures.BUNDLE_SERVER}"
    with PortForward(kc.kubectl_argv(), namespace, selector, 8080, runner=SubprocessRunner()) as pf:
        assert pf.call(get).text == "before"
        first = pf.pod
        serve(b"after")  # new bytes → new pod template → the bound pod is replaced
        assert pf.call(get).text == "after"
        assert pf.restarts and pf.pod != first


def test_artifacts_of_a_run_are_collected(cluster: Cluster, namespace: str) -> None:
    kc = cluster.provider
    kc.apply(k8s_fixtures.bundle_server(namespace, {"x": b"x"}, image=cluster.busybox))
    dest = ARTIFACTS / "collected" / namespace
    written = kc.collect_artifacts(dest, namespaces=[namespace])
    names = {str(p.relative_to(dest)) for p in written}
    assert {"get-all.txt", "events.txt", f"{namespace}/describe-pods.txt"} <= names
    node_logs = {"kind": "kind-logs", "local": "local-logs"}.get(kc.provider)
    if node_logs is not None:  # an existing cluster's nodes are not ours to read
        assert any((dest / node_logs).rglob("*")), f"{kc.provider}: no node logs in {dest}"
