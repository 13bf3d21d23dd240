"""The docker track's pure helpers: which pod a scenario talks to, the deployer answers,
what a start's environment may carry, and how in-network registry pulls are counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from greentic.deployer.k8s.bodies import Body, ref_to
from greentic.errors import ApplyConflict, NotFound
from harness import registry, rendered
from harness.docker import track as docker
from harness.docker.cluster import DockerCluster
from harness.docker.pods import Pods, SyncResult
from harness.tracks import TRACKS


def env_doc(revisions: list[dict[str, Any]], routed: dict[str, int]) -> dict[str, Any]:
    entries = [{"revision_id": r, "weight_bps": w} for r, w in routed.items()]
    return {"revisions": revisions, "traffic_splits": [{"entries": entries}] if entries else []}


def rev(rid: str, seq: int, lifecycle: str = "ready") -> dict[str, Any]:
    return {"revision_id": rid, "sequence": seq, "lifecycle": lifecycle}


def test_the_docker_track_is_registered() -> None:
    assert TRACKS["docker"] == "harness.docker.track:DockerBackend"


def test_serving_deployment_prefers_the_newest_routed_revision() -> None:
    doc = env_doc([rev("01AAA", 1), rev("01BBB", 2)], {"01AAA": 0, "01BBB": 10_000})
    assert docker.serving_deployment(doc) == "gtc-worker-01bbb"
    older = env_doc([rev("01AAA", 1), rev("01BBB", 2)], {"01AAA": 10_000})
    assert docker.serving_deployment(older) == "gtc-worker-01aaa"


def test_serving_deployment_falls_back_to_a_warm_worker_then_the_router() -> None:
    unrouted = env_doc([rev("01AAA", 1), rev("01BBB", 2, "archived")], {})
    assert docker.serving_deployment(unrouted) == "gtc-worker-01aaa"
    assert docker.serving_deployment(env_doc([], {})) == "gtc-router"
    only_staged = env_doc([rev("01AAA", 1, "staged")], {})
    assert docker.serving_deployment(only_staged) == "gtc-router"


def test_deployer_answers_pin_the_local_image() -> None:
    assert rendered.deployer_answers("greentic-runtime:abc", []) == {
        "runtime_image": "greentic-runtime:abc",
        "image_pull_policy": "IfNotPresent",
    }
    with_registry = rendered.deployer_answers("img", ["gtc-oci-registry:5000"])
    assert with_registry["oci_insecure_registries"] == ["gtc-oci-registry:5000"]


def test_only_the_insecure_registries_reach_the_rendered_pods() -> None:
    def insecure_from(env: dict[str, str] | None, current: list[str]) -> list[str]:
        return rendered.insecure_from(env, current, track="docker", error=docker.DockerTrackError)

    assert insecure_from(None, ["kept:1"]) == ["kept:1"]
    given = {"GREENTIC_OCI_INSECURE_REGISTRIES": "a:5000, b:5000"}
    assert insecure_from(given, []) == ["a:5000", "b:5000"]
    with pytest.raises(docker.DockerTrackError, match="cannot inject FOO"):
        insecure_from({"FOO": "1"}, [])


def test_registry_pulls_count_in_network_blob_gets_only() -> None:
    def line(host: str, method: str, uri: str) -> str:
        return (
            f'time="t" level=info msg="response completed" http.request.host="{host}" '
            f'http.request.method={method} http.request.uri="{uri}" http.response.status=200'
        )

    log = "\n".join(
        [
            line("127.0.0.1:32781", "GET", "/v2/greentic/bot/blobs/sha256:aa"),  # host side
            line("gtc-oci-registry:5000", "GET", "/v2/greentic/bot/manifests/v1"),
            line("gtc-oci-registry:5000", "GET", "/v2/greentic/bot/blobs/sha256:aa"),
            line("gtc-oci-registry:5000", "HEAD", "/v2/greentic/bot/blobs/sha256:aa"),
            line("gtc-oci-registry:5000", "GET", "/v2/other/blobs/sha256:aa"),
        ]
    )
    assert registry.registry_pulls(log, "gtc-oci-registry:5000", "greentic/bot:v1") == 1


def test_the_in_network_httpd_cannot_inject_failures() -> None:
    with pytest.raises(docker.DockerTrackError, match="the in-network httpd cannot inject"):
        docker.DockerDistributor(docker.DockerBackend()).fail("x.gtbundle")


# -- DockerCluster's API-server semantics (pods stubbed: no engine needed) ------------------------


class StubPods:
    """What DockerCluster asks of Pods; records every sync."""

    run_id = "unit"

    def __init__(self) -> None:
        self.synced: list[list[str]] = []

    def sync(self, objects: Any) -> SyncResult:
        self.synced.append(sorted(o["metadata"]["name"] for o in objects))
        return SyncResult(started=("x",))

    def pods(self, **_: Any) -> list[Any]:
        return []

    def stale(self) -> bool:
        return False


def config_map(name: str, value: str, **labels: str) -> Body:
    meta: Any = {"name": name, "namespace": "ns", "labels": labels}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": value}}


def new_cluster(tmp_path: Path) -> tuple[DockerCluster, StubPods]:
    stub = StubPods()
    return DockerCluster(cast(Pods, stub), state_file=tmp_path / "state.json"), stub


def test_apply_is_idempotent_and_records_the_field_manager(tmp_path: Path) -> None:
    cluster, stub = new_cluster(tmp_path)
    (first,) = cluster.apply([config_map("a", "1")], field_manager="me", force=False)
    fields: Any = first["metadata"]
    assert [m["manager"] for m in fields["managedFields"]] == ["me"]
    assert cluster.settle().started == ("x",) and stub.synced == [["a"]]
    (again,) = cluster.apply([config_map("a", "1")], field_manager="me", force=False)
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert cluster.settle() == SyncResult() and stub.synced == [["a"]]  # nothing to realize
    with pytest.raises(ApplyConflict, match='conflict with "me"'):
        cluster.apply([config_map("a", "2")], field_manager="other", force=False)
    (taken,) = cluster.apply([config_map("a", "2")], field_manager="other", force=True)
    assert taken["metadata"]["generation"] == 2


def test_dry_run_delete_precondition_and_state_across_processes(tmp_path: Path) -> None:
    cluster, _ = new_cluster(tmp_path)
    cluster.apply([config_map("a", "1")], field_manager="me", force=True, dry_run=True)
    assert cluster.objects == {} and not (tmp_path / "state.json").exists()
    cluster.apply([config_map("a", "1", env="e")], field_manager="me", force=True)
    target = ref_to("ConfigMap", "a", "ns")
    cluster.delete(target, labels={"env": "other"})
    cluster.delete(target, labels={"env": "e"}, dry_run=True)
    reborn, stub = new_cluster(tmp_path)  # a new process: the objects are read back
    assert reborn.list("ConfigMap", namespace="ns", labels={"env": "e"})[0]["data"] == {"k": "1"}
    assert stub.synced == [["a"]]  # its first read realized them (pods recreated)
    reborn.delete(target, labels={"env": "e"})
    with pytest.raises(NotFound):
        reborn.get(target)
    assert new_cluster(tmp_path)[0].objects == {}
