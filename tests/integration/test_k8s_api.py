"""KubeCluster's real HTTP traffic, against a recording stub of the Kubernetes API server.

The stub (a real HTTP server on 127.0.0.1:0) answers discovery, keeps applied objects (moving
resourceVersion only when content changes, like server-side apply), lists and deletes by
label/field selector, and records every request, so the tests assert the wire format: PATCH
with `application/apply-patch+yaml`, `fieldManager=greentic-deployer`, `force=true`, and
DELETE narrowed by label selector on prune. No real cluster is involved.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from greentic.deployer.k8s import naming, reconcile, render
from greentic.deployer.k8s.answers import K8sAnswers
from greentic.deployer.k8s.cluster import KubeCluster
from greentic.deployer.k8s.errors import ClusterError, ClusterUnreachable
from greentic.errors import ApplyConflict, Conflict
from tests.unit.deployer.k8s import envs

RESOURCES = {
    "/api/v1": [
        ("namespaces", "Namespace", False),
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("services", "Service", True),
        ("pods", "Pod", True),
        ("events", "Event", True),
    ],
    "/apis/apps/v1": [("deployments", "Deployment", True)],
    "/apis/policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "/apis/networking.k8s.io/v1": [
        ("networkpolicies", "NetworkPolicy", True),
        ("ingresses", "Ingress", True),
    ],
}
PLURALS = {name for group in RESOURCES.values() for name, _, _ in group}
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class StubState:
    requests: list[Request] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)  # path → object
    failures: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    version: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_method(self, method: str) -> list[Request]:
        return [r for r in self.requests if r.method == method]


def discovery(path: str) -> dict[str, Any] | None:
    if path == "/version":
        return {"major": "1", "minor": "37", "gitVersion": "v1.37.0"}
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"]}
    if path == "/apis":
        groups = []
        for gv in RESOURCES:
            if gv.startswith("/apis/"):
                group, version = gv[len("/apis/") :].split("/")
                v = {"groupVersion": f"{group}/{version}", "version": version}
                groups.append({"name": group, "versions": [v], "preferredVersion": v})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    if path in RESOURCES:
        gv = path.removeprefix("/api/").removeprefix("/apis/")
        res = [
            {"name": n, "singularName": "", "namespaced": ns, "kind": k, "verbs": VERBS}
            for n, k, ns in RESOURCES[path]
        ]
        return {"kind": "APIResourceList", "groupVersion": gv, "resources": res}
    return None


def matches(obj: dict[str, Any], query: dict[str, list[str]]) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for term in (query.get("labelSelector") or [""])[0].split(","):
        if term and labels.get(term.split("=")[0]) != term.split("=", 1)[1]:
            return False
    for term in (query.get("fieldSelector") or [""])[0].split(","):
        if term == f"metadata.name={obj['metadata']['name']}" or not term:
            continue
        return False
    return True


def unversioned(obj: dict[str, Any]) -> dict[str, Any]:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": None}}


def status(code: int, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "code": code,
    }


def make_handler(state: StubState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def reply(self, code: int, doc: Any) -> None:
            data = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def handle_any(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            req = Request(
                self.command,
                url.path,
                parse_qs(url.query),
                {k.lower(): v for k, v in self.headers.items()},
                json.loads(raw) if raw else None,
            )
            with state.lock:
                state.requests.append(req)
                code, doc = self.answer(req)
            self.reply(code, doc)

        def answer(self, req: Request) -> tuple[int, Any]:
            if (req.method, req.path) in state.failures:
                code, message = state.failures[(req.method, req.path)]
                return code, status(code, message)
            found = discovery(req.path)
            if req.method == "GET" and found is not None:
                return 200, found
            if req.method == "PATCH":
                old = state.objects.get(req.path)
                new = copy.deepcopy(req.body)
                if old is None or unversioned(old) != unversioned(new):
                    state.version += 1
                    new["metadata"]["resourceVersion"] = str(state.version)
                    if "dryRun" not in req.query:
                        state.objects[req.path] = new
                    return 200, new
                return 200, old
            if req.method == "GET" and req.path in state.objects:
                return 200, state.objects[req.path]
            if req.method == "GET" and req.path.rsplit("/", 1)[-1] in PLURALS:
                items = [
                    o
                    for p, o in state.objects.items()
                    if p.rsplit("/", 1)[0] == req.path and matches(o, req.query)
                ]
                return 200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items}
            if req.method == "DELETE":
                gone = [
                    p
                    for p, o in state.objects.items()
                    if p.rsplit("/", 1)[0] == req.path and matches(o, req.query)
                ]
                if "dryRun" not in req.query:
                    for p in gone:
                        del state.objects[p]
                return 200, {"kind": "List", "apiVersion": "v1", "items": []}
            return 404, status(404, f"{req.method} {req.path} not handled")

        do_GET = do_PATCH = do_DELETE = do_POST = do_PUT = handle_any

    return Handler


@dataclass
class Stub:
    state: StubState
    url: str
    kubeconfig: Path


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[Stub]:
    state = StubState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    config = tmp_path / "kubeconfig"
    config.write_text(kubeconfig(url))
    try:
        yield Stub(state, url, config)
    finally:
        server.shutdown()
        server.server_close()


def kubeconfig(url: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "stub", "cluster": {"server": url}}],
            "users": [{"name": "stub", "user": {"token": "t0k3n"}}],
            "contexts": [{"name": "stub-ctx", "context": {"cluster": "stub", "user": "stub"}}],
            "current-context": "stub-ctx",
        }
    )


def path_of(obj: dict[str, Any]) -> str:
    plural = {
        "Namespace": "namespaces",
        "ConfigMap": "configmaps",
        "Secret": "secrets",
        "Service": "services",
        "Deployment": "deployments",
        "PodDisruptionBudget": "poddisruptionbudgets",
        "NetworkPolicy": "networkpolicies",
        "Ingress": "ingresses",
    }[obj["kind"]]
    base = "/api/v1" if obj["apiVersion"] == "v1" else f"/apis/{obj['apiVersion']}"
    ns = obj["metadata"].get("namespace")
    where = f"/namespaces/{ns}" if ns else ""
    return f"{base}{where}/{plural}/{obj['metadata']['name']}"


def test_reconcile_speaks_server_side_apply(stub: Stub) -> None:
    objs = render.objects(envs.m2_env(), K8sAnswers(), dev_store=None)
    with KubeCluster.connect(kubeconfig=str(stub.kubeconfig)) as cluster:
        assert (cluster.context, cluster.server) == ("stub-ctx", stub.url)
        result = reconcile.run(objs, cluster=cluster, env_id="local")
    assert (result["applied"], result["pruned"]) == (14, 0)
    paths = {r.path for r in stub.state.by_method("GET")}
    assert {"/apis", "/api/v1", "/apis/apps/v1"} <= paths
    patches = stub.state.by_method("PATCH")
    assert [p.path for p in patches] == [path_of(o) for o in objs]
    for patch, obj in zip(patches, objs, strict=True):
        assert patch.headers["content-type"] == "application/apply-patch+yaml"
        assert patch.query["fieldManager"] == ["greentic-deployer"]
        assert patch.query["force"] == ["true"]
        assert "dryRun" not in patch.query
        assert patch.headers["authorization"] == "Bearer t0k3n"
        assert patch.body == obj
    assert patches[0].path == "/api/v1/namespaces/gtc-local"


def test_second_reconcile_is_all_unchanged_then_archive_prunes_by_label(stub: Stub) -> None:
    env = envs.m2_env()
    with KubeCluster.connect(kubeconfig=str(stub.kubeconfig)) as cluster:
        reconcile.run(
            render.objects(env, K8sAnswers(), dev_store=None), cluster=cluster, env_id="local"
        )
        again = reconcile.run(
            render.objects(env, K8sAnswers(), dev_store=None), cluster=cluster, env_id="local"
        )
        assert again["changed"] == 0
        assert {r["action"] for r in again["objects"]} == {"unchanged"}
        lists = [r for r in stub.state.by_method("GET") if "labelSelector" in r.query]
        assert lists and all(
            r.query["labelSelector"] == ["app.kubernetes.io/managed-by=greentic"] for r in lists
        )
        pruned = reconcile.run(
            render.objects(envs.archived(env), K8sAnswers(), dev_store=None),
            cluster=cluster,
            env_id="local",
        )
    assert (pruned["applied"], pruned["pruned"]) == (12, 2)
    name = naming.worker_name(env.revisions[0].revision_id)
    deletes = stub.state.by_method("DELETE")
    assert [d.path for d in deletes] == [
        "/apis/apps/v1/namespaces/gtc-local/deployments",
        "/api/v1/namespaces/gtc-local/services",
    ]
    for d in deletes:
        assert d.query["labelSelector"] == [
            "app.kubernetes.io/managed-by=greentic,greentic.ai/env=local"
        ]
        assert d.query["fieldSelector"] == [f"metadata.name={name}"]
    assert not any(name in p for p in stub.state.objects)
    assert "/api/v1/namespaces/gtc-local" in stub.state.objects


def test_dry_run_sends_dry_run_all(stub: Stub) -> None:
    objs = render.objects(envs.m2_env(), K8sAnswers(), dev_store=None)
    with KubeCluster.connect(kubeconfig=str(stub.kubeconfig)) as cluster:
        result = reconcile.run(objs, cluster=cluster, env_id="local", dry_run=True)
    assert result["dry_run"] is True
    assert all(p.query["dryRun"] == ["All"] for p in stub.state.by_method("PATCH"))
    assert stub.state.objects == {}


def test_conflict_keeps_the_status_message(stub: Stub) -> None:
    objs = render.objects(envs.m2_env(), K8sAnswers(), dev_store=None)
    message = (
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas'
    )
    stub.state.failures[("PATCH", path_of(objs[3]))] = (409, message)
    with (
        KubeCluster.connect(kubeconfig=str(stub.kubeconfig)) as cluster,
        pytest.raises(ApplyConflict) as info,
    ):
        reconcile.run(objs, cluster=cluster, env_id="local")
    assert str(info.value) == f"applying Deployment gtc-router in namespace gtc-local: {message}"
    assert "3 of 14 objects were applied" in (info.value.hint or "")


def test_forbidden_is_a_cluster_error(stub: Stub) -> None:
    objs = render.objects(envs.m2_env(), K8sAnswers(), dev_store=None)
    stub.state.failures[("PATCH", path_of(objs[0]))] = (403, 'namespaces "gtc-local" is forbidden')
    with (
        KubeCluster.connect(kubeconfig=str(stub.kubeconfig)) as cluster,
        pytest.raises(ClusterError) as info,
    ):
        cluster.apply(objs[:1], field_manager="greentic-deployer", force=True)
    assert 'namespaces "gtc-local" is forbidden (status 403)' in str(info.value)


def test_unreachable_cluster_is_one_line_naming_context_and_server(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "kubeconfig"
    config.write_text(kubeconfig(f"http://127.0.0.1:{port}"))
    with pytest.raises(ClusterUnreachable) as info:
        KubeCluster.connect(kubeconfig=str(config))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        f"cannot reach the cluster: context `stub-ctx` at http://127.0.0.1:{port}: "
    )
    assert "refused" in message.lower()


def test_unknown_context_names_it(stub: Stub) -> None:
    with pytest.raises(Conflict) as info:
        KubeCluster.connect("nope", kubeconfig=str(stub.kubeconfig))
    assert str(info.value).startswith(
        "no usable Kubernetes credentials: kubeconfig context `nope`: "
    )


def test_no_kubeconfig_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(Conflict, match="no usable Kubernetes credentials: no kubeconfig at"):
        KubeCluster.connect()


def test_kubeconfig_env_var_is_honoured(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(stub.kubeconfig))
    with KubeCluster.connect() as cluster:
        assert cluster.server == stub.url
        assert cluster.list("Service", namespace="gtc-local", labels={}) == []


def gtc(root: Path, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a child process (KUBECONFIG points at the stub)."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(root)}
    cmd = [sys.executable, "-c", "from greentic.cli.main import gtc; gtc()", "op"]
    return subprocess.run(
        [*cmd, "--store-root", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_cli_reconcile_against_the_stub(stub: Stub, store_root: Path) -> None:
    envs.save(store_root, envs.webchat_env())
    done = gtc(store_root, stub.kubeconfig, "env", "reconcile", "local")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["op"], doc["noun"]) == ("reconcile", "env")
    result = doc["result"]
    assert (result["applied"], result["pruned"], result["changed"]) == (15, 0, 15)
    assert (result["context"], result["server"]) == ("stub-ctx", stub.url)
    assert len(stub.state.by_method("PATCH")) == 15
    again = gtc(store_root, stub.kubeconfig, "env", "reconcile", "local")
    assert json.loads(again.stdout)["result"]["changed"] == 0
    assert len(stub.state.by_method("PATCH")) == 30


def test_cli_unreachable_cluster_is_one_clear_line(store_root: Path, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "kubeconfig"
    config.write_text(kubeconfig(f"http://127.0.0.1:{port}"))
    envs.save(store_root, envs.m2_env())
    done = gtc(store_root, config, "env", "reconcile", "local")
    assert (done.returncode, done.stdout) == (1, "")
    error = json.loads(done.stderr.splitlines()[0])["error"]
    assert error["kind"] == "conflict"
    assert error["message"].startswith(
        f"cannot reach the cluster: context `stub-ctx` at http://127.0.0.1:{port}: "
    )
    assert "Traceback" not in done.stderr


def test_kubeconfig_without_current_context(tmp_path: Path) -> None:
    doc = json.loads(kubeconfig("http://127.0.0.1:1"))
    del doc["current-context"]
    config = tmp_path / "kubeconfig"
    config.write_text(json.dumps(doc))
    with pytest.raises(Conflict, match="current-context") as info:
        KubeCluster.connect(kubeconfig=str(config))
    assert "--context" in (info.value.hint or "")
