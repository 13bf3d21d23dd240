"""The cluster track against the recording stub of the Kubernetes API (tests/integration/
test_k8s_api.py's server): issue #14 defects 2 and 3, with the real `gtc` CLI in a child.

- A kept cluster (`demo.py kind-up`, then `kind-serve` from the user's shell) carries no
  kubeconfig of its own and `operator_env()` moves HOME to a run directory; `gtc op env
  reconcile` must still reach the API server the USER's kubeconfig names.
- Server-side apply bodies arrive single-encoded (an object, not a JSON string) with the lowest
  `kubernetes` client pyproject allows.
"""

from __future__ import annotations

import json
import re
import threading
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from greentic.deployer.k8s import reconcile, render
from greentic.deployer.k8s.answers import K8sAnswers
from greentic.deployer.k8s.cluster import KubeCluster
from harness.artifacts import Artifacts
from harness.context import ScenarioContext
from harness.kube.clusters import kept_cluster
from harness.kube.commands import Completed
from harness.kube.track import Images, KindBackend
from tests.integration import test_k8s_api as api
from tests.unit.deployer.k8s import envs

ROOT = Path(__file__).resolve().parents[2]
IMAGES = Images(runtime="gtc-runtime:abc", busybox="gtc-busybox:abc", registry="gtc-registry:abc")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[api.Stub]:
    state = api.StubState()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), api.make_handler(state))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    config = tmp_path / "stub-kubeconfig"
    config.write_text(api.kubeconfig(url))
    try:
        yield api.Stub(state, url, config)
    finally:
        httpd.shutdown()
        httpd.server_close()


class KindOnly:
    """kind/kubectl/docker as the demo cluster `gtc-demo` sees them (exists; every step ok)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def run(self, argv: Any, *, timeout: float, input: Any = None, env: Any = None) -> Completed:
        args = tuple(argv)
        self.calls.append(args)
        out = "gtc-demo\n" if args[:3] == ("kind", "get", "clusters") else ""
        return Completed(args, 0, out, "")


def users_kubeconfig(home: Path, url: str) -> None:
    """What `kind create cluster --name gtc-demo` writes into the user's ~/.kube/config."""
    doc = json.loads(api.kubeconfig(url))
    doc["contexts"][0]["name"] = "kind-gtc-demo"
    doc["current-context"] = "kind-gtc-demo"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(json.dumps(doc))


def test_kind_serve_on_the_kept_demo_cluster_reaches_the_users_kubeconfig(
    server: api.Stub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    users_kubeconfig(home, server.url)
    monkeypatch.setenv("HOME", str(home))  # the user's shell: no KUBECONFIG, ~/.kube/config
    monkeypatch.delenv("KUBECONFIG", raising=False)
    runner = KindOnly()
    cluster = kept_cluster("gtc-demo", registry_image=IMAGES.registry, runner=runner)
    cluster.create()  # adopted: `kind-up` made it earlier
    assert cluster.kubeconfig is None  # kind wrote the user's default kubeconfig
    backend = KindBackend(runner=runner, cluster=cluster, images=IMAGES, require=lambda t: None)
    work = tmp_path / "run"
    store = work / "store"
    envs.save(store, envs.m2_env())
    with ExitStack() as stack:
        scope = ScenarioContext(
            name="kind-serve", track="kind", variant=None, run_id="r1",
            artifacts=Artifacts(tmp_path / "art"), work_dir=work, store_root=store,
            keep=False, stack=stack,
        )  # fmt: skip
        result = backend.reconcile(scope, "local")
    assert (result["context"], result["server"]) == ("kind-gtc-demo", server.url)
    patches = server.state.by_method("PATCH")
    assert patches and patches[0].path == "/api/v1/namespaces/gtc-local"
    assert all(p.headers["authorization"] == "Bearer t0k3n" for p in patches)


def k8s_floor() -> tuple[int, ...]:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (spec,) = doc["project"]["optional-dependencies"]["k8s"]
    found = re.fullmatch(r"kubernetes>=([\d.]+)", spec)
    assert found, spec
    return tuple(int(p) for p in found.group(1).split("."))


def test_server_side_apply_bodies_arrive_single_encoded_with_the_lowest_allowed_client(
    server: api.Stub,
) -> None:
    """29.0.0-36.0.3 double-encoded a str body; the floor must be a client that does not, and
    the body must reach the server as the object (JSON object, never a JSON string)."""
    installed = tuple(int(p) for p in kubernetes.__version__.split(".")[:1])
    assert installed[0] == k8s_floor()[0], (
        f"kubernetes {kubernetes.__version__} installed; this test must run with the lowest "
        f"major pyproject allows ({k8s_floor()}): install it or move the floor"
    )
    objs = render.objects(envs.m2_env(), K8sAnswers(), dev_store=None)
    with KubeCluster.connect(kubeconfig=str(server.kubeconfig)) as cluster:
        reconcile.run(objs, cluster=cluster, env_id="local")
    patches = server.state.by_method("PATCH")
    assert len(patches) == len(objs)
    for patch, obj in zip(patches, objs, strict=True):
        assert isinstance(patch.body, dict), f"double-encoded body: {str(patch.body)[:80]}"
        assert patch.body == obj
