"""The `local` cluster provider and its user surface without a cluster: `Local` adopting or
starting (and stopping) the cluster `harness.kube.local.cluster` runs (its functions faked
here), images imported once per tag, the process logs in the evidence; the environment
selecting it (`clusters`), the plugin's gate rules, and demo's cluster-up / cluster-down."""

from __future__ import annotations

import os
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import demo
import harness.kube.local
from harness.errors import HarnessError
from harness.kube import clusters, gate, verbs
from harness.kube.commands import ClusterUnreachable, ProviderError, Runner
from harness.kube.kubectl import RUN_LABEL
from harness.kube.local import cluster as local_cluster
from harness.kube.local import provider as local_provider
from harness.kube.local.provider import Local
from harness.kube.providers import ClusterOptions, provider_for
from tests.unit.harness.conftest import FakeRunner

VERSION = '{"serverVersion": {"gitVersion": "v1.33.13"}}'
UP = "python demo.py cluster-up --provider local"


@dataclass
class FakeLocal:
    """Stands in for `harness.kube.local.cluster`'s running/start/stop (one cluster)."""

    root: Path
    up: bool = False
    start_error: str | None = None
    left: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def cluster(self) -> local_cluster.LocalCluster:
        return local_cluster.LocalCluster(
            directory=self.root,
            kubeconfig=self.root / "kubeconfig",
            context=local_cluster.CONTEXT,
            server="https://10.250.0.1:6443",
            containerd_address=str(self.root / "containerd.sock"),
            pid=4242,
            version="v1.33.13",
            logs=self.root / "logs",
        )

    def running(self, directory: Path | None = None) -> local_cluster.LocalCluster | None:
        self.calls.append("running")
        return self.cluster() if self.up else None

    def start(self, directory: Path | None = None, **_: object) -> local_cluster.LocalCluster:
        self.calls.append("start")
        if self.start_error is not None:
            raise HarnessError(self.start_error)
        self.up = True
        return self.cluster()

    def stop(self, directory: Path | None = None, **_: object) -> list[str]:
        self.calls.append("stop")
        self.up = False
        return list(self.left)


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeLocal:
    fake = FakeLocal(tmp_path / "local")
    for name in ("running", "start", "stop"):
        monkeypatch.setattr(local_cluster, name, getattr(fake, name))
    monkeypatch.setenv(local_cluster.DIR_ENV, str(fake.root))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.setattr(local_provider, "_IMPORTED", {})
    return fake


@pytest.fixture
def kubectl(cmd: FakeRunner, fake: FakeLocal) -> FakeRunner:
    cmd.on(*kube(fake, "version"), stdout=VERSION)
    return cmd


def kube(fake: FakeLocal, *args: str) -> list[str]:
    config = f"{fake.root}/kubeconfig"
    return ["kubectl", "--kubeconfig", config, "--context", "greentic-local", *args]


# -- the provider ----------------------------------------------------------------------------


def test_the_local_provider_is_chosen_by_name_and_adopts_a_running_cluster(
    fake: FakeLocal, kubectl: FakeRunner
) -> None:
    fake.up = True
    provider = provider_for(ClusterOptions(provider="local", run_id="r1"), runner=kubectl)
    assert isinstance(provider, Local)
    with provider:
        assert (provider.provider, provider.context, provider.keep) == (
            "local",
            "greentic-local",
            True,
        )
        assert provider.kubeconfig == fake.root / "kubeconfig"
        assert provider.kube_env({"HOME": "/run"})["KUBECONFIG"] == f"{fake.root}/kubeconfig"
        assert provider.namespace_for("local") == "gtc-local-r1"
        assert provider.namespace_labels() == {RUN_LABEL: "r1"}
        provider.kubectl("get", "nodes")
    assert fake.calls == ["running"]  # adopted: never started, never stopped
    assert kubectl.argvs()[0] == kube(fake, "version", "-o", "json", "--request-timeout=5s")
    assert kube(fake, "get", "nodes") in kubectl.argvs()
    assert kubectl.argvs()[-1] == kube(
        fake, "delete", "namespace", "-l", f"{RUN_LABEL}=r1", "--wait=false", "--ignore-not-found"
    )


def test_a_cluster_it_started_is_stopped_at_tear_down_unless_kept(
    fake: FakeLocal, kubectl: FakeRunner
) -> None:
    with Local(run_id="r1", runner=kubectl, out=lambda _: None) as provider:
        assert (provider.started, provider.keep) == (True, False)
    assert fake.calls == ["running", "start", "stop"]
    assert provider.release() == []  # once
    assert fake.calls.count("stop") == 1
    fake.calls.clear()
    with Local(run_id="r2", runner=kubectl, keep=True):
        pass
    assert fake.calls == ["running", "start"] and fake.up


def test_an_xdist_worker_never_starts_one_and_fails_in_one_line(
    fake: FakeLocal, kubectl: FakeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    provider = provider_for(ClusterOptions(provider="local"), runner=kubectl)
    with pytest.raises(ClusterUnreachable) as info, provider:
        pass
    assert str(info.value) == f"no local cluster is running in {fake.root} — start it with `{UP}`"
    assert "start" not in fake.calls and kubectl.calls == []


def test_a_failed_start_is_one_provider_error_naming_cluster_up(
    fake: FakeLocal, kubectl: FakeRunner
) -> None:
    fake.start_error = "go is not on PATH\nHint: install Go"
    with pytest.raises(ProviderError) as info, Local(runner=kubectl, out=lambda _: None):
        pass
    assert str(info.value) == (
        f"the local cluster did not start: go is not on PATH — next: `{UP}` shows its output"
    )
    assert "stop" not in fake.calls and kubectl.calls == []


def test_leftovers_at_tear_down_are_an_error_or_a_note_on_the_failure(
    fake: FakeLocal, kubectl: FakeRunner
) -> None:
    fake.left = ["veth gtc0", "mount /tmp/greentic-local/x"]
    left = r"left on the host: veth gtc0, mount /tmp"
    with pytest.raises(ProviderError, match=left), Local(runner=kubectl, out=lambda _: None):
        pass
    with pytest.raises(KeyError) as info, Local(runner=kubectl, out=lambda _: None):
        raise KeyError("boom")
    assert "left on the host: veth gtc0" in "".join(info.value.__notes__)


def test_images_are_imported_into_the_nodes_containerd_once_per_tag(
    fake: FakeLocal, kubectl: FakeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    imported: list[tuple[str, str, Runner]] = []

    def import_docker_image(address: str, tag: str, *, runner: Runner) -> str:
        imported.append((address, tag, runner))
        return f"docker.io/library/{tag}"

    images = types.SimpleNamespace(import_docker_image=import_docker_image)
    monkeypatch.setitem(sys.modules, "harness.kube.local.images", images)
    monkeypatch.setattr(harness.kube.local, "images", images, raising=False)
    fake.up = True
    with Local(runner=kubectl) as first, Local(runner=kubectl) as second:
        assert first.image_ref("gtc-runtime:3f2a") == "docker.io/library/gtc-runtime:3f2a"
        assert second.image_ref("gtc-runtime:3f2a") == "docker.io/library/gtc-runtime:3f2a"
        assert first.image_ref("gtc-busybox:1") == "docker.io/library/gtc-busybox:1"
    address = str(fake.root / "containerd.sock")
    assert imported == [
        (address, "gtc-runtime:3f2a", kubectl),
        (address, "gtc-busybox:1", kubectl),
    ]  # once per tag per process, whichever provider asks
    with pytest.raises(ProviderError, match="not set up"):
        Local(runner=kubectl).image_ref("x:1")


def test_the_evidence_holds_the_clusters_process_logs(
    fake: FakeLocal, kubectl: FakeRunner, tmp_path: Path
) -> None:
    (fake.root / "logs" / "kubelet").mkdir(parents=True)
    (fake.root / "logs" / "apiserver.log").write_text("apiserver\n")
    (fake.root / "logs" / "kubelet" / "stderr.log").write_text("kubelet\n")
    fake.up = True
    dest = tmp_path / "evidence"
    with Local(runner=kubectl) as provider:
        written = provider.collect_artifacts(dest, namespaces=[])
        quick = provider.collect_artifacts(tmp_path / "quick", namespaces=[], node_logs=False)
    assert (dest / "local-logs" / "apiserver.log").read_text() == "apiserver\n"
    assert (dest / "local-logs" / "kubelet" / "stderr.log").read_text() == "kubelet\n"
    assert dest / "local-logs" / "kubelet" / "stderr.log" in written
    assert not (tmp_path / "quick" / "local-logs").exists() and quick is not None
    assert not any("kind" in argv[0] for argv in kubectl.argvs())
    assert local_provider.copy_logs(tmp_path / "absent", dest) == []


# -- the environment selecting it, one per process -------------------------------------------


def test_the_environment_selects_the_local_provider_kept_by_every_process() -> None:
    chosen = clusters.cluster_options({"GTC_CLUSTER_PROVIDER": "local"})
    assert (chosen.provider, chosen.keep_cluster) == ("local", True)
    assert clusters._key(chosen) == "local"
    assert clusters._key(ClusterOptions(kube_context="c")) == "context:c"
    assert clusters._key(ClusterOptions(provider="local", kube_context="c")) == "local"
    assert clusters._key(ClusterOptions(cluster_name="n")) == "kind:n"
    assert clusters._key(ClusterOptions()) == "process"


def test_every_process_adopts_and_session_end_leaves_the_cluster_running(
    fake: FakeLocal, kubectl: FakeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clusters, "_CLUSTERS", {})
    monkeypatch.setattr(clusters, "_FAILED", {})
    monkeypatch.setenv(clusters.PROVIDER_ENV, "local")
    fake.up = True

    def image() -> str:
        raise AssertionError("a local cluster needs no kind registry image")

    options = clusters.cluster_options()
    provider = clusters.session_provider(options, runner=kubectl, registry_image=image)
    assert clusters.session_provider(options, runner=kubectl, registry_image=image) is provider
    assert clusters.close_session_clusters() == []
    assert fake.calls == ["running"]
    deleted = ["delete", "namespace", "-l", f"{RUN_LABEL}={provider.run_id}"]
    assert kubectl.argvs()[-1][5:9] == deleted
    with pytest.raises(ProviderError, match="but --provider local selects the `local` provider"):
        clusters.session_cluster(runner=kubectl, registry_image="reg:1")


def test_session_end_stops_a_local_cluster_the_process_started_and_does_not_keep(
    fake: FakeLocal, kubectl: FakeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = Local(runner=kubectl, out=lambda _: None)
    provider.set_up()
    monkeypatch.setattr(clusters, "_CLUSTERS", {"local": provider})
    assert clusters.close_session_clusters() == ["greentic-local"]
    assert fake.calls == ["running", "start", "stop"] and clusters._CLUSTERS == {}


# -- the plugin's gate -----------------------------------------------------------------------


def test_only_a_kind_cluster_needs_kind_and_cluster_tests_are_recognised() -> None:
    assert gate.cluster_tools() == ["kind", "kubectl"]
    assert gate.cluster_tools(kube_context="c") == ["kubectl"]
    assert gate.cluster_tools(provider="local") == ["kubectl"]
    assert gate.wants_cluster("kind", "host") and gate.wants_cluster("kind and not slow", "host")
    assert gate.wants_cluster("", "kind")
    assert not gate.wants_cluster("not kind", "host") and not gate.wants_cluster("", "host")


def test_the_gate_starts_only_what_is_not_running_and_says_why_not(fake: FakeLocal) -> None:
    lines: list[str] = []
    assert gate.cluster_failure(None, "local") == (
        f"no local cluster is running in {fake.root} — start it with `{UP}`"
    )
    assert gate.start_local(lines.append) == gate.LocalStart(started=True)
    assert gate.cluster_failure(None, "local") == ""
    assert gate.start_local(lines.append) == gate.LocalStart()  # running: adopted
    assert fake.calls.count("start") == 1
    fake.left = ["route 10.250.0.0/24"]
    assert gate.stop_local(lines.append) == ["route 10.250.0.0/24"]
    assert lines[-1].startswith("the local cluster left on the host: route 10.250.0.0/24 — next:")
    fake.start_error = "etcd did not answer"
    failed = gate.start_local(lines.append)
    assert not failed.started and failed.failure.startswith(
        "the local cluster did not start: etcd did not answer — next: "
    )
    assert gate.cluster_failure(None, None) == ""


# -- demo.py ---------------------------------------------------------------------------------


def test_cluster_up_starts_it_and_says_how_to_use_it(fake: FakeLocal) -> None:
    lines: list[str] = []
    assert verbs.cluster_up(lines.append, provider="local") == 0
    config = fake.root / "kubeconfig"
    assert f"kubeconfig: {config}" in lines
    assert f"try: kubectl --kubeconfig {config} get nodes" in lines
    assert "local cluster `greentic-local` is up: Kubernetes v1.33.13" in lines
    assert fake.calls == ["running", "start"]
    lines.clear()
    assert verbs.cluster_up(lines.append, provider="local") == 0  # running: found, not started
    assert lines[0] == f"the local cluster in {fake.root} is already running (pid 4242)"
    assert fake.calls.count("start") == 1


def test_cluster_up_that_cannot_start_exits_1_with_the_cause(fake: FakeLocal) -> None:
    fake.start_error = "the `go` toolchain is missing\nHint: apt-get install golang"
    lines: list[str] = []
    assert verbs.cluster_up(lines.append, provider="local") == 1
    assert lines[-2] == "✗ the local cluster did not start: the `go` toolchain is missing"
    assert lines[-1].startswith("next: ")


def test_cluster_down_says_what_it_stopped_and_fails_listing_leftovers(
    fake: FakeLocal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GTC_ARTIFACTS", str(tmp_path / "artifacts"))
    fake.up = True
    lines: list[str] = []
    assert verbs.cluster_down(lines.append, provider="local") == 0
    assert lines == [
        f"cluster logs: {tmp_path / 'artifacts' / 'local-cluster'} (0 files)",  # before the stop
        f"stopped local cluster `greentic-local` (Kubernetes v1.33.13, supervisor pid 4242) "
        f"in {fake.root}",
    ]
    lines.clear()
    fake.left = ["iptables chain GTC-LOCAL", "mount /tmp/greentic-local/kubelet/pods"]
    assert verbs.cluster_down(lines.append, provider="local") == 1
    assert lines == [
        f"no local cluster was running in {fake.root}; nothing to stop",
        "✗ left on the host:",
        "  iptables chain GTC-LOCAL",
        "  mount /tmp/greentic-local/kubelet/pods",
        "next: remove them by hand, then run `python demo.py cluster-down --provider local` again",
    ]
    assert fake.calls.count("stop") == 2  # stop sweeps even when nothing runs


def test_without_local_cluster_up_and_down_are_kind_up_and_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []
    monkeypatch.setattr(verbs, "kind_up", lambda out, runner=None: seen.append("up") or 0)
    monkeypatch.setattr(verbs, "kind_down", lambda out, runner=None: seen.append("down") or 0)
    assert verbs.cluster_up(print) == 0 and verbs.cluster_down(print, provider="kind") == 0
    assert seen == ["up", "down"]


def test_demo_provider_flag_runs_the_cluster_track_on_the_local_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in (clusters.PROVIDER_ENV, clusters.CLUSTER_ENV, clusters.CONTEXT_ENV):
        monkeypatch.setenv(variable, "x")  # recorded, so teardown restores the original
        monkeypatch.delenv(variable)
    assert demo.handler_for("cluster-up") is demo.verb_cluster_up
    assert demo.handler_for("cluster-down") is demo.verb_cluster_down
    opts = demo.parse(["kind-serve", "--provider", "local"])
    assert opts.provider == "local"
    assert clusters.cluster_options().provider == "local"
    assert verbs.use_demo_cluster() == "greentic-local"
    assert clusters.CLUSTER_ENV not in os.environ  # no kind demo cluster named


def test_the_local_demo_gate_needs_docker_not_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(verbs.preflight, "require", lambda track: asked.append(track) or [])
    monkeypatch.setenv(clusters.PROVIDER_ENV, "local")
    assert verbs.demo_preflight(print)
    monkeypatch.delenv(clusters.PROVIDER_ENV)
    monkeypatch.delenv(clusters.CONTEXT_ENV, raising=False)
    assert verbs.demo_preflight(print)
    assert asked == ["docker", "kind"]
