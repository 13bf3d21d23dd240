"""The cluster track's providers (harness.kube.providers): which one the options pick, what
`existing` does on a cluster it does not own, and — with this machine's real kubectl and a
bogus kubeconfig — that an unreachable context fails in seconds with one clear line."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from harness.kube import providers
from harness.kube.commands import ClusterUnreachable, ProviderError
from harness.kube.kind import KindCluster
from harness.kube.kubectl import RUN_LABEL, resolve_kubeconfig
from harness.kube.providers import ClusterOptions, Existing, provider_for
from tests.unit.harness.conftest import FakeRunner

VERSION = json.dumps({"clientVersion": {}, "serverVersion": {"gitVersion": "v1.33.1"}})


def test_a_context_selects_existing_and_nothing_selects_kind() -> None:
    assert isinstance(provider_for(ClusterOptions(kube_context="k3d-dev")), Existing)
    own = provider_for(ClusterOptions(run_id="ab12"))
    assert isinstance(own, KindCluster)
    assert (own.provider, own.keep, own.reuse) == ("kind", False, False)
    assert own.name.startswith("gtc-") and own.name.endswith("ab12")  # gtc-[<xdist worker>-]ab12
    named = provider_for(ClusterOptions(cluster_name="gtc-mine"))
    assert isinstance(named, KindCluster)
    assert (named.name, named.reuse, named.keep) == ("gtc-mine", True, False)


def test_local_is_chosen_by_name_and_unknown_providers_are_named() -> None:
    local = provider_for(ClusterOptions(provider="local", run_id="ab12"))
    assert (local.provider, local.context, local.run_id) == ("local", "greentic-local", "ab12")
    with pytest.raises(ProviderError, match="unknown cluster provider `k8s`"):
        provider_for(ClusterOptions(provider="k8s"))
    with pytest.raises(ProviderError, match="needs --kube-context"):
        provider_for(ClusterOptions(provider="existing"))


def test_existing_checks_reachability_with_a_short_request_timeout(cmd: FakeRunner) -> None:
    cmd.on("kubectl", "--context", "k3d-dev", "version", stdout=VERSION)
    with Existing("k3d-dev", run_id="r1", runner=cmd):
        pass
    first = cmd.argvs()[0]
    assert first == [
        "kubectl", "--context", "k3d-dev", "version", "-o", "json", "--request-timeout=5s",
    ]  # fmt: skip


def test_existing_deletes_only_the_namespaces_labelled_with_its_run(cmd: FakeRunner) -> None:
    cmd.on("kubectl", "--context", "c", "version", stdout=VERSION)
    with Existing("c", run_id="r1", runner=cmd) as ex:
        assert ex.namespace_for("local") == "gtc-local-r1"
        assert ex.namespace_labels() == {RUN_LABEL: "r1"}
    assert cmd.argvs()[-1] == [
        "kubectl", "--context", "c", "delete", "namespace", "-l", f"{RUN_LABEL}=r1",
        "--wait=false", "--ignore-not-found",
    ]  # fmt: skip
    assert not any("cluster" in a and "delete" in a for a in cmd.argvs())


def test_existing_pushes_images_to_the_registry_once(cmd: FakeRunner) -> None:
    ex = Existing("c", run_id="r1", image_registry="reg.example:5000/ci", runner=cmd)
    assert ex.image_ref("gtc-runtime:3f2a") == "reg.example:5000/ci/gtc-runtime:3f2a"
    assert ex.image_ref("gtc-runtime:3f2a") == "reg.example:5000/ci/gtc-runtime:3f2a"
    assert cmd.argvs() == [
        ["docker", "tag", "gtc-runtime:3f2a", "reg.example:5000/ci/gtc-runtime:3f2a"],
        ["docker", "push", "reg.example:5000/ci/gtc-runtime:3f2a"],
    ]


def test_existing_kind_context_loads_and_other_contexts_need_a_registry(cmd: FakeRunner) -> None:
    cmd.on("kind", "get", "clusters", stdout="gtc-demo\n")
    kept = Existing("kind-gtc-demo", run_id="r1", runner=cmd)
    assert kept.image_ref("gtc-busybox:1") == "gtc-busybox:1"
    assert ["kind", "load", "docker-image", "gtc-busybox:1", "--name", "gtc-demo"] in cmd.argvs()
    cloud = Existing("gke_prod", run_id="r1", runner=cmd)
    with pytest.raises(ProviderError, match="pass --image-registry HOST"):
        cloud.image_ref("gtc-busybox:1")


def test_run_namespaces_are_valid_labels_unique_per_run() -> None:
    assert providers.run_namespace("local", "AB_12") == "gtc-local-ab-12"
    assert len(providers.run_namespace("x" * 80, "r")) <= 63
    assert providers.run_namespace("local", "a") != providers.run_namespace("local", "b")


def test_kube_env_always_names_a_kubeconfig_even_for_a_kept_cluster(tmp_path: Path) -> None:
    env = {"KUBECONFIG": f"{tmp_path}/a:{tmp_path}/b"}
    assert resolve_kubeconfig(None, env) == f"{tmp_path}/a:{tmp_path}/b"
    assert resolve_kubeconfig(None, {}, home=tmp_path) == f"{tmp_path}/.kube/config"
    assert resolve_kubeconfig(tmp_path / "k", env) == f"{tmp_path}/k"
    kept = KindCluster("gtc-demo", run_id="gtc-demo", workdir=tmp_path, keep=True, reuse=True)
    assert "KUBECONFIG" in kept.kube_env({"HOME": "/run/dir"})


def test_an_unreachable_context_fails_in_seconds_with_one_line(tmp_path: Path) -> None:
    """Acceptance (issue #14): real kubectl, a kubeconfig naming a port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "kubeconfig"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "x", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
                "users": [{"name": "x", "user": {"token": "t"}}],
                "contexts": [{"name": "bogus", "context": {"cluster": "x", "user": "x"}}],
            }
        )
    )
    for context in ("bogus", "no-such-context"):
        options = ClusterOptions(kube_context=context, kubeconfig=config)
        started = time.monotonic()
        with pytest.raises(ClusterUnreachable) as info, provider_for(options):
            pass
        assert time.monotonic() - started < 15
        text = str(info.value)
        assert "\n" not in text
        assert text.startswith(f"kube context `{context}` (kubeconfig {config}) is not reachable")


def test_a_kept_kind_cluster_always_has_a_name_the_next_run_finds(cmd: FakeRunner) -> None:
    """One rule (`kind_cluster_name`) for the plugin and the providers: --keep-cluster
    without --cluster-name keeps `gtc-pytest`, adopted by the next run, not `gtc-<run id>`."""
    kept = provider_for(ClusterOptions(run_id="ab12", keep_cluster=True), runner=cmd)
    assert isinstance(kept, KindCluster)
    assert (kept.name, kept.keep, kept.reuse) == (providers.KEPT_CLUSTER, True, True)
    assert providers.KEPT_CLUSTER == "gtc-pytest"
    named = ClusterOptions(cluster_name="mine", keep_cluster=True)
    assert providers.kind_cluster_name(named) == "mine"
    assert providers.kind_cluster_name(ClusterOptions()) is None
    cmd.on("kind", "get", "clusters", stdout="gtc-pytest\n")
    with kept:  # the next run adopts it (no create) and leaves it (no delete)
        pass
    assert cmd.argvs()[0] == ["kind", "get", "clusters"]
    assert not any(a[:2] == ["kind", "create"] or a[:2] == ["kind", "delete"] for a in cmd.argvs())
