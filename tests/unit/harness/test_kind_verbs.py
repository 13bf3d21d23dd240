"""The demo's kind verbs and the process's cluster cache without kind: the preflight gate,
kind-down of the kept demo cluster, and session clusters deleted at the end unless kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness import preflight
from harness.kube import clusters, verbs
from harness.kube.kind import KindCluster
from harness.preflight import Finding, PreflightFailed

# -- demo verbs ------------------------------------------------------------------------------


def test_kind_up_without_kind_prints_one_line_per_miss_and_the_docker_track(
    cmd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def require(track_name: str) -> None:
        raise PreflightFailed(
            track_name,
            [
                Finding("kind", "fail", "`kind` is not on PATH", "install kind v0.29.0"),
                Finding("kubectl", "fail", "`kubectl` is not on PATH", "install kubectl"),
            ],
        )

    monkeypatch.setattr(preflight, "require", require)
    lines: list[str] = []
    assert verbs.kind_up(lines.append, runner=cmd) == 1
    assert lines == [
        "✗ kind: `kind` is not on PATH — install kind v0.29.0",
        "✗ kubectl: `kubectl` is not on PATH — install kubectl",
        "next: install what is missing (above), or run this verb with `--track docker` "
        "(same scenario, pods as containers)",
    ]
    assert cmd.calls == []


def test_kind_down_deletes_the_demo_cluster(cmd: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clusters.CLUSTER_ENV, "x")
    monkeypatch.delenv(clusters.CLUSTER_ENV)
    monkeypatch.setattr(preflight, "require", lambda t: [])
    cmd.on("kind", "get", "clusters", stdout="gtc-demo\n")
    lines: list[str] = []
    assert verbs.kind_down(lines.append, runner=cmd) == 0
    assert cmd.argvs()[1:] == [
        ["kind", "delete", "cluster", "--name", "gtc-demo"],
        ["docker", "rm", "-f", "gtc-demo-registry"],
    ]
    assert lines == ["deleted kind cluster `gtc-demo` and its registry"]


def test_demo_verbs_share_one_kept_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clusters.CLUSTER_ENV, "x")  # recorded, so teardown restores the original
    monkeypatch.delenv(clusters.CLUSTER_ENV)
    assert verbs.demo_cluster_name() == "gtc-demo"
    assert verbs.use_demo_cluster() == "gtc-demo"
    monkeypatch.setenv(clusters.CLUSTER_ENV, "mine")
    assert verbs.use_demo_cluster() == "mine" == verbs.demo_cluster_name()


# -- the cluster cache ---------------------------------------------------------------------


def test_session_clusters_are_deleted_at_session_end_unless_kept(cmd: Any, tmp_path: Path) -> None:
    own = KindCluster("gtc-gw0-ab12", run_id="gw0-ab12", workdir=tmp_path, runner=cmd)
    kept = KindCluster("gtc-demo", run_id="gtc-demo", workdir=tmp_path, runner=cmd, keep=True)
    clusters._CLUSTERS.update({"process": own, "gtc-demo": kept})
    assert clusters.close_session_clusters() == ["gtc-gw0-ab12"]
    assert clusters._CLUSTERS == {}
    assert cmd.argvs() == [
        ["kind", "delete", "cluster", "--name", "gtc-gw0-ab12"],
        ["docker", "rm", "-f", "gtc-gw0-ab12-registry"],
    ]
