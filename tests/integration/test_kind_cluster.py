"""The kind plumbing against a REAL kind cluster (`pytest -m kind`; kind.yml in CI).

Never run on the machines this was written on (kind cannot pull a node image there); the
unit tests cover the same code against a scripted kubectl. Checks what only a cluster can:
the local-registry recipe really serves pulls, pod-to-pod traffic works, the port-forward
survives a rollout, and the artifacts of a run are collected.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness import k8s_fixtures, preflight
from harness.artifacts import default_root
from harness.kube import clusters
from harness.kube.commands import SubprocessRunner
from harness.kube.kind import KindCluster
from harness.kube.local_registry import hosts_dir, hosts_toml
from harness.kube.portforward import PortForward

pytestmark = [pytest.mark.kind, pytest.mark.slow, pytest.mark.timeout(1800)]
# under the directory kind.yml uploads (`$GTC_ARTIFACTS`, else <repo>/artifacts), not tmp_path
ARTIFACTS = default_root(Path(__file__).resolve().parents[2]) / "kind-cluster-tests"


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[tuple[KindCluster, Any]]:
    from harness.docker import images

    if os.environ.get(clusters.CONTEXT_ENV):
        pytest.skip("kind's own plumbing (local registry, kind export logs): not --kube-context")
    built = images.ensure_all()
    kc = clusters.session_cluster(runner=SubprocessRunner(), registry_image=built.registry)
    clusters.load_once(kc, [built.busybox])
    yield kc, built
    if request.session.testsfailed:  # this module's failures: the cluster's evidence, node logs too
        kc.collect_artifacts(ARTIFACTS / "on-failure" / kc.name)


@pytest.fixture
def namespace(cluster: tuple[KindCluster, Any]) -> Iterator[str]:
    kc, _ = cluster
    ns = f"gtc-kindtest-{secrets.token_hex(3)}"
    kc.kubectl("create", "namespace", ns)
    yield ns
    kc.kubectl("delete", "namespace", ns, "--wait=false")


def test_the_local_registry_recipe_serves_pulls(
    cluster: tuple[KindCluster, Any], namespace: str
) -> None:
    kc, built = cluster
    assert kc.registry_port is not None
    for node in kc.nodes():
        cat = ["docker", "exec", node, "cat", f"{hosts_dir(kc.registry_port)}/hosts.toml"]
        assert kc.runner.run(cat, timeout=30).stdout == hosts_toml(kc.registry)
    cm = kc.kubectl("-n", "kube-public", "get", "configmap", "local-registry-hosting", "-o", "json")
    hosting = json.loads(cm.stdout)["data"]["localRegistryHosting.v1"]
    assert f'host: "localhost:{kc.registry_port}"' in hosting
    ref = kc.push_image(built.busybox)
    kc.kubectl(
        "-n", namespace, "run", "from-registry", "--image", ref, "--image-pull-policy=Always",
        "--restart=Never", "--command", "--", "sh", "-c", "echo pulled",
    )  # fmt: skip
    kc.kubectl(
        "-n", namespace, "wait", "pod/from-registry",
        "--for=jsonpath={.status.phase}=Succeeded", "--timeout=180s", timeout=240,
    )  # fmt: skip
    assert "pulled" in kc.kubectl("-n", namespace, "logs", "pod/from-registry").stdout


def test_pods_reach_each_other(cluster: tuple[KindCluster, Any]) -> None:
    kc, _ = cluster
    ns = k8s_fixtures.probe_namespace(secrets.token_hex(3))
    finding = preflight.check_pod_network(preflight.RealHost(), kc.kubectl_argv(), ns)
    assert finding.ok, finding.line()


def test_the_port_forward_follows_a_rollout(
    cluster: tuple[KindCluster, Any], namespace: str
) -> None:
    kc, built = cluster

    def serve(text: bytes) -> None:
        kc.apply(k8s_fixtures.bundle_server(namespace, {"x": text}, image=built.busybox))
        kc.kubectl(
            "-n", namespace, "rollout", "status", f"deployment/{k8s_fixtures.BUNDLE_SERVER}",
            "--timeout=180s", timeout=240,
        )  # fmt: skip

    def get(base: str) -> httpx.Response:
        return httpx.get(f"{base}/x", timeout=5, trust_env=False)

    serve(b"before")
    selector = f"app.kubernetes.io/name={k8s_fixtures.BUNDLE_SERVER}"
    with PortForward(kc.kubectl_argv(), namespace, selector, 8080, runner=kc.runner) as pf:
        assert pf.call(get).text == "before"
        first = pf.pod
        serve(b"after")  # new bytes → new pod template → the bound pod is replaced
        assert pf.call(get).text == "after"
        assert pf.restarts and pf.pod != first


def test_artifacts_of_a_run_are_collected(cluster: tuple[KindCluster, Any], namespace: str) -> None:
    kc, built = cluster
    kc.apply(k8s_fixtures.bundle_server(namespace, {"x": b"x"}, image=built.busybox))
    dest = ARTIFACTS / "collected" / namespace
    written = kc.collect_artifacts(dest, namespaces=[namespace])
    names = {str(p.relative_to(dest)) for p in written}
    assert {"get-all.txt", "events.txt", f"{namespace}/describe-pods.txt"} <= names
    assert any((dest / "kind-logs").rglob("*")), "kind export logs wrote nothing"
