"""NetworkPolicy enforcement is detected, not assumed: the probe (harness.kube.netpol) against a
scripted kubectl, the kind backend's `confirm`, the runner's skip with the probe's reason, and
the cluster selection the pytest plugin's flags travel through (GTC_* → ClusterOptions)."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import runner, tracks
from harness.kube import clusters, netpol
from harness.kube.commands import ClusterUnreachable, Completed, ProviderError
from harness.kube.kind import KindCluster
from harness.kube.providers import ClusterOptions, Existing
from harness.kube.track import Images, KindBackend
from harness.tracks import Capability
from tests.unit.harness.conftest import FakeRunner

K = ("kubectl", "--context", "kind-gtc-t")
NS = netpol.probe_namespace("t")
POD = json.dumps({"status": {"podIP": "10.244.0.7"}})
FETCH = (*K, "-n", NS, "exec", netpol.CLIENT)


def scripted(cmd: FakeRunner, fetches: list[int]) -> FakeRunner:
    """A cluster whose pods come up; the client's GETs exit with `fetches` in order."""
    cmd.on(*K, "-n", NS, "get", "pod", netpol.SERVER, stdout=POD)
    codes = iter(fetches)

    def fetch(argv: tuple[str, ...], _input: str | None) -> Completed:
        return Completed(argv, next(codes, 1))

    cmd.answer(*FETCH, fn=fetch)
    return cmd


def detect(cmd: FakeRunner) -> netpol.Detection:
    return netpol.detect(K, cmd, "gtc-busybox:1", run_id="t", sleep=lambda s: None)


def test_a_deny_all_that_drops_the_request_means_enforced(cmd: FakeRunner) -> None:
    found = detect(scripted(cmd, [0, 0, 1]))  # baseline answered, then 1 try through, dropped
    assert found.enforced and "try 2" in found.detail
    applied = [yaml.safe_load_all(c.input or "") for c in cmd.calls if "apply" in c.argv]
    kinds = [[o["kind"] for o in docs] for docs in applied]
    assert kinds == [["Namespace", "Pod", "Pod"], ["NetworkPolicy"]]  # the policy after baseline
    fetches = [c.argv for c in cmd.calls if c.argv[: len(FETCH)] == FETCH]
    assert fetches[0][len(FETCH) :] == (
        "--", "timeout", "3", "wget", "-q", "-O-", "http://10.244.0.7:8080/",
    )  # fmt: skip
    assert cmd.argvs()[-1] == [*K, "delete", "namespace", NS, "--wait=false", "--ignore-not-found"]


def test_a_deny_all_that_lets_every_request_through_means_not_enforced(cmd: FakeRunner) -> None:
    found = detect(scripted(cmd, [0] * (1 + netpol.ATTEMPTS)))
    assert not found.enforced
    assert f"through {netpol.ATTEMPTS} times" in found.detail
    assert cmd.argvs()[-1][-4:] == ["namespace", NS, "--wait=false", "--ignore-not-found"]


def test_a_broken_pod_network_is_an_error_not_a_verdict_and_cleans_up(cmd: FakeRunner) -> None:
    with pytest.raises(ProviderError, match="pod network is broken"):
        detect(scripted(cmd, [1]))
    assert not any("NetworkPolicy" in (c.input or "") for c in cmd.calls)
    assert cmd.argvs()[-1][-4:] == ["namespace", NS, "--wait=false", "--ignore-not-found"]


def test_the_probe_pods_pass_restricted_and_the_namespace_is_run_labelled() -> None:
    ns, server, client = netpol.probe_objects(NS, "img:1", "t")
    assert ns["metadata"]["labels"] == {"greentic.test/run": "t"}
    for pod in (server, client):
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        assert pod["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False
    assert netpol.deny_all(NS)["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_the_verdict_is_cached_per_cluster(cmd: FakeRunner, tmp_path: Path) -> None:
    netpol._CACHE.clear()
    scripted(cmd, [0, 1])
    kc = KindCluster("gtc-t", run_id="t", workdir=tmp_path, runner=cmd)
    assert kc.enforces_network_policy("img:1").enforced
    calls = len(cmd.calls)
    assert kc.enforces_network_policy("img:1").enforced
    assert len(cmd.calls) == calls  # no second probe on the same cluster
    netpol._CACHE.clear()


# -- the backend and the runner --------------------------------------------------------------

IMAGES = Images(runtime="gtc-runtime:1", busybox="gtc-busybox:1", registry="gtc-registry:1")


def backend(cmd: FakeRunner, tmp_path: Path) -> KindBackend:
    cluster = KindCluster("gtc-t", run_id="t", workdir=tmp_path, runner=cmd)
    return KindBackend(runner=cmd, cluster=cluster, images=IMAGES, require=lambda t: None)


def test_the_backend_probes_only_for_a_scenario_that_needs_enforcement(
    cmd: FakeRunner, tmp_path: Path
) -> None:
    netpol._CACHE.clear()
    kind = backend(cmd, tmp_path)
    before = len(cmd.calls)
    assert kind.confirm([Capability.RECONCILE]) is None
    assert len(cmd.calls) == before  # nothing probed
    scripted(cmd, [0, 1])
    assert kind.confirm([Capability.NETWORK_POLICY]) is None
    assert Capability.NETWORK_POLICY in kind.capabilities
    netpol._CACHE.clear()


def test_a_cluster_that_does_not_enforce_skips_the_scenario_with_the_reason(
    cmd: FakeRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netpol._CACHE.clear()
    kind = backend(cmd, tmp_path)
    scripted(cmd, [0] * 10)
    needs = types.ModuleType("scenarios.egress_policy")
    needs.NEEDS = (Capability.RECONCILE, Capability.NETWORK_POLICY)  # type: ignore[attr-defined]
    reason = runner.unconfirmed(needs, kind)
    assert reason is not None and reason.startswith(
        "`egress-policy` needs network-policy: cluster `kind-gtc-t` does not enforce "
        "NetworkPolicies (detected: a deny-all NetworkPolicy let pod-to-pod HTTP through"
    )
    assert Capability.NETWORK_POLICY not in kind.capabilities

    def run(ctx: Any) -> Any:
        raise AssertionError("a scenario the cluster cannot host must not run")

    needs.run = run  # type: ignore[attr-defined]
    monkeypatch.setattr(tracks, "backend_for", lambda track: kind)
    result = runner.execute(needs, track="kind", artifacts_root=tmp_path)
    assert result.skipped == reason and not result.ok
    netpol._CACHE.clear()


def test_the_docker_track_never_has_network_policy() -> None:
    assert Capability.NETWORK_POLICY not in tracks.capabilities_of("docker")
    assert Capability.NETWORK_POLICY not in tracks.capabilities_of("host")
    assert Capability.NETWORK_POLICY in tracks.capabilities_of("kind")  # may: probed when built


# -- the selection the plugin's flags travel through -----------------------------------------


def test_the_environment_selects_the_cluster_in_one_place() -> None:
    default = clusters.cluster_options({})
    assert (default.kube_context, default.cluster_name, default.keep_cluster) == (None, None, False)
    chosen = clusters.cluster_options(
        {"GTC_KUBE_CONTEXT": "k3d-dev", "GTC_IMAGE_REGISTRY": "reg:5000/ci"}
    )
    assert (chosen.kube_context, chosen.image_registry) == ("k3d-dev", "reg:5000/ci")
    named = clusters.cluster_options({"GTC_KIND_CLUSTER": "shared"})
    assert (named.cluster_name, named.keep_cluster) == ("shared", True)  # never this process's


def test_an_unreachable_context_fails_every_run_fast_and_never_builds_images(
    cmd: FakeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GTC_KUBE_CONTEXT", "gone")
    monkeypatch.setattr(clusters, "_CLUSTERS", {})
    monkeypatch.setattr(clusters, "_FAILED", {})
    cmd.on("kubectl", "--context", "gone", "version", rc=1, stderr='context "gone" not found')
    built: list[str] = []

    def image() -> str:
        built.append("x")
        return "img"

    def session() -> object:
        return KindBackend(runner=cmd, images=None, require=lambda t: built.append(t))

    for _ in range(2):
        with pytest.raises(ClusterUnreachable, match=r"^kube context `gone` is not reachable"):
            session()
    assert built == []  # no kind preflight, no image build
    assert len(cmd.calls) == 1  # the second run re-raised the cached one line
    assert "kind" not in {c.argv[0] for c in cmd.calls}
    cmd.on("kubectl", "--context", "ok", "version", stdout='{"serverVersion": {}}')
    reachable = clusters.session_provider(
        ClusterOptions(kube_context="ok"), runner=cmd, registry_image=image
    )
    assert isinstance(reachable, Existing) and built == []


def test_session_end_deletes_an_existing_clusters_run_namespaces(
    cmd: FakeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = Existing("k3d-dev", run_id="r9", runner=cmd)
    monkeypatch.setattr(clusters, "_CLUSTERS", {"context:k3d-dev": existing})
    assert clusters.close_session_clusters() == []
    assert cmd.argvs()[-1][3:7] == ["delete", "namespace", "-l", "greentic.test/run=r9"]
