"""Preflight over a fake host: each miss is ONE line naming what is missing and the fix, and
kind-track verbs point at `--track docker`; the pod-network probe always cleans up."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import k8s_fixtures, preflight
from harness.errors import HarnessError
from harness.kube import kind, kubectl
from harness.kube.local import cluster as local_cluster
from harness.kube.local import node as local_node
from harness.preflight import Finding, PreflightFailed


def doctor_verb(out: Any, cluster: str) -> int:
    """demo.py's doctor: the checks plus what the local cluster module sees."""
    from harness import doctor
    from harness.kube.local import doctor as local_doctor

    return doctor.doctor_verb(out, cluster=cluster, other=local_doctor.seen())


KUBECTL_JSON = json.dumps({"clientVersion": {"gitVersion": "v1.33.1"}})


@dataclass
class FakeHost:
    runner: Any
    on_path: set[str] = field(default_factory=lambda: {"docker", "kind", "kubectl"})
    missing_modules: set[str] = field(default_factory=set)

    def which(self, name: str) -> str | None:
        return f"/usr/bin/{name}" if name in self.on_path else None

    def importable(self, module: str) -> bool:
        return module not in self.missing_modules


@pytest.fixture
def host(cmd: Any) -> FakeHost:
    cmd.on("docker", "info", stdout="27.5.1\n")
    cmd.on("kind", "version", stdout=f"kind {kind.KIND_VERSION} go1.24.2 linux/amd64\n")
    cmd.on("kubectl", "version", "--client", stdout=KUBECTL_JSON)
    return FakeHost(cmd)


def test_a_ready_machine_passes_the_kind_track(host: FakeHost) -> None:
    findings = preflight.require("kind", host=host)
    assert [f.line() for f in findings] == [
        "✓ python deps: 12 modules importable",
        "✓ docker: engine 27.5.1",
        f"✓ kind: {kind.KIND_VERSION}",
        "✓ kubectl: v1.33.1",
    ]


def test_missing_kind_stops_a_kind_verb_with_one_line_and_suggests_the_docker_track(
    host: FakeHost,
) -> None:
    host.on_path.discard("kind")
    with pytest.raises(PreflightFailed) as err:
        preflight.require("kind", host=host)
    lines = str(err.value).splitlines()
    assert lines[0] == "the kind track cannot run here: kind: `kind` is not on PATH"
    assert len(lines) == 3 and lines[1].startswith("✗ kind: `kind` is not on PATH — install kind ")
    assert kind.KIND_SHA256["linux-amd64"] in lines[1]
    assert lines[1].endswith(
        "or run this verb with `--track docker` (same scenario, pods as containers)"
    )
    assert lines[2] == "Hint: install what is missing (above), " + preflight.USE_DOCKER_TRACK
    assert isinstance(err.value, HarnessError) and err.value.failed[0].name == "kind"


def test_every_miss_gets_its_own_line(host: FakeHost) -> None:
    host.on_path -= {"kind", "kubectl"}
    host.missing_modules = {"docker"}
    with pytest.raises(PreflightFailed) as err:
        preflight.require("kind", host=host)
    lines = err.value.message.splitlines()[1:]
    assert [ln.split(":")[0] for ln in lines] == ["✗ python deps", "✗ kind", "✗ kubectl"]
    assert err.value.message.splitlines()[0] == (
        "the kind track cannot run here: python deps: cannot import docker; "
        "kind: `kind` is not on PATH; kubectl: `kubectl` is not on PATH"
    )
    assert lines[0] == "✗ python deps: cannot import docker — " + preflight.INSTALL_DEPS
    assert "--track docker" in lines[2]


def test_docker_not_on_path_and_engine_down_are_different_fixes(host: FakeHost, cmd: Any) -> None:
    host.on_path.discard("docker")
    assert preflight.check_docker(host, kind_verb=True).line() == (
        "✗ docker: `docker` is not on PATH — "
        "install Docker Engine (the kind and docker tracks need one)"
    )
    host.on_path.add("docker")
    cmd.on(
        "docker",
        "info",
        rc=1,
        stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock\n",
    )
    line = preflight.check_docker(host).line()
    assert line.startswith(
        "✗ docker: the Docker engine does not answer (Cannot connect to the Docker daemon"
    )
    assert line.endswith(
        "— start it (`sudo systemctl start docker`, or `dockerd &`) and retry `docker info`"
    )


def test_another_kind_version_warns_but_does_not_stop(host: FakeHost, cmd: Any) -> None:
    cmd.on("kind", "version", stdout="kind v0.20.0 go1.20.4 linux/amd64\n")
    finding = preflight.check_kind(host)
    assert finding.status == "warn" and finding.ok
    assert f"v0.20.0 found; the kind track pins {kind.KIND_VERSION}" in finding.line()
    preflight.require("kind", host=host)


def test_the_docker_track_does_not_need_kind(host: FakeHost) -> None:
    host.on_path -= {"kind", "kubectl"}
    assert [f.name for f in preflight.require("docker", host=host)] == ["python deps", "docker"]
    assert [f.name for f in preflight.require("host", host=host)] == ["python deps"]


def test_context_reachable_or_not(host: FakeHost, cmd: Any, tmp_path: Any) -> None:
    kc = tmp_path / "kc"
    argv = kubectl.kubectl_cmd(
        "kind-gtc", "version", "-o", "json", "--request-timeout=5s", kubeconfig=kc
    )
    cmd.on(*argv, stdout=json.dumps({"serverVersion": {"gitVersion": "v1.33.1"}}))
    assert preflight.check_context(host, "kind-gtc", kubeconfig=kc).line() == (
        "✓ kube context: `kind-gtc` answers (server v1.33.1)"
    )
    assert cmd.argvs()[-1] == argv
    cmd.on(*argv, rc=1, stderr='error: context "kind-gtc" does not exist\n')
    line = preflight.check_context(host, "kind-gtc", kubeconfig=kc).line()
    assert line.startswith(
        '✗ kube context: context `kind-gtc` is not reachable (error: context "kind-gtc"'
    )
    assert "`python demo.py kind-up` creates it" in line and "--track docker" in line


def test_image_freshness_is_the_content_hash_tag_being_present(host: FakeHost, cmd: Any) -> None:
    cmd.on("docker", "image", "inspect", stdout="sha256:0123456789abcdef0123\n")
    assert preflight.check_image(host, "greentic-runtime:9f8e").ok
    cmd.on("docker", "image", "inspect", rc=1, stderr="Error: No such image")
    finding = preflight.check_image(
        host, "greentic-runtime:9f8e", build="python -m harness.docker.images"
    )
    assert finding.line() == (
        "✗ runtime image: `greentic-runtime:9f8e` is not built for the current sources"
        " — python -m harness.docker.images"
    )


def test_doctor_without_a_cluster_says_the_pod_network_was_not_checked(host: FakeHost) -> None:
    findings = preflight.doctor(host, images={"runtime image": "greentic-runtime:1"})
    assert [f.name for f in findings] == [
        "python deps",
        "docker",
        "kind",
        "kubectl",
        "runtime image",
        "pod network",
    ]
    assert findings[-1].status == "warn"
    assert "docker info" in " ".join(" ".join(c.argv) for c in host.runner.calls)


def test_doctor_skips_image_checks_without_docker(host: FakeHost) -> None:
    host.on_path.discard("docker")
    findings = preflight.doctor(host, images={"runtime image": "greentic-runtime:1"})
    image = next(f for f in findings if f.name == "runtime image")
    assert image == Finding("runtime image", "warn", "not checked (docker is missing)")


# -- pod-to-pod connectivity -----------------------------------------------------------------

KUBECTL = ["kubectl", "--context", "kind-gtc"]
NS = "gtc-preflight-run1"


def test_pod_network_steps_are_exact() -> None:
    steps = preflight.pod_network_steps(KUBECTL, NS)
    assert [argv for argv, _ in steps] == [
        [*KUBECTL, "apply", "-f", "-"],
        [
            *KUBECTL,
            "-n",
            NS,
            "wait",
            "pod/probe-client",
            "--for=jsonpath={.status.phase}=Succeeded",
            "--timeout=120s",
        ],
        [*KUBECTL, "-n", NS, "logs", "pod/probe-client"],
        [*KUBECTL, "delete", "namespace", NS, "--wait=false"],
    ]
    assert list(yaml.safe_load_all(steps[0][1] or "")) == k8s_fixtures.connectivity_probe(NS)


def test_pod_network_ok_when_the_client_read_the_page(host: FakeHost, cmd: Any) -> None:
    cmd.on(*KUBECTL, "-n", NS, "logs", stdout="ok\n")
    assert preflight.check_pod_network(host, KUBECTL, NS).line() == (
        "✓ pod network: a pod reached another pod's Service"
    )
    assert cmd.argvs()[-1] == [*KUBECTL, "delete", "namespace", NS, "--wait=false"]


def test_broken_pod_network_points_at_the_docker_track_and_still_cleans_up(
    host: FakeHost, cmd: Any
) -> None:
    cmd.on(*KUBECTL, "-n", NS, "wait", rc=1, stderr="error: timed out waiting for the condition")
    finding = preflight.check_pod_network(host, KUBECTL, NS)
    assert finding.status == "fail"
    assert (
        "could not wget another pod's Service" in finding.line()
        and "--track docker" in finding.line()
    )
    assert cmd.argvs()[-1][-3:] == ["namespace", NS, "--wait=false"]


def test_pod_network_apply_failure_stops_early_and_cleans_up(host: FakeHost, cmd: Any) -> None:
    cmd.on(*KUBECTL, "apply", rc=1, stderr="The connection to the server was refused")
    finding = preflight.check_pod_network(host, KUBECTL, NS)
    assert finding.line().startswith("✗ pod network: probe pods not created (The connection")
    assert [a[3] for a in cmd.argvs()] == ["apply", "delete"]


def test_doctor_runs_the_pod_network_check_only_on_a_reachable_context(
    host: FakeHost, cmd: Any
) -> None:
    calls: list[str] = []

    def probe(h: Any) -> Finding:
        calls.append("probe")
        return Finding("pod network", "ok", "fine")

    cmd.on("kubectl", "--context", "kind-gtc", "version", rc=1, stderr="refused")
    preflight.doctor(host, context="kind-gtc", pod_network=probe)
    assert calls == []
    cmd.on(
        "kubectl",
        "--context",
        "kind-gtc",
        "version",
        stdout=json.dumps({"serverVersion": {"gitVersion": "v1"}}),
    )
    assert preflight.doctor(host, context="kind-gtc", pod_network=probe)[-1].name == "pod network"
    assert calls == ["probe"]


def test_doctor_verb_checks_the_demo_cluster_when_it_exists(
    host: FakeHost, cmd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preflight, "RealHost", lambda: host)
    cmd.on("kind", "get", "clusters", stdout="gtc-demo\n")
    cmd.on("kubectl", "--context", "kind-gtc-demo", "version",
           stdout=json.dumps({"serverVersion": {"gitVersion": "v1.33.1"}}))  # fmt: skip
    cmd.on("kubectl", "--context", "kind-gtc-demo", "-n", stdout="ok\n")
    monkeypatch.setattr(local_cluster, "running", lambda directory=None: None)
    monkeypatch.setattr(local_node, "missing_prerequisites", lambda: [])
    lines: list[str] = []
    assert doctor_verb(lines.append, cluster="gtc-demo") == 0
    assert lines[-3:] == [
        "✓ kube context: `kind-gtc-demo` answers (server v1.33.1)",
        "✓ pod network: a pod reached another pod's Service",
        "! local cluster: not running — `demo.py cluster-up --provider local`",
    ]
    host.on_path.discard("kind")
    lines.clear()
    assert doctor_verb(lines.append, cluster="gtc-demo") == 1
    assert lines[2].startswith("✗ kind: `kind` is not on PATH")
    assert lines[-2] == "! pod network: not checked (no cluster; `kind-up` first)"


def test_doctor_verb_checks_a_running_local_cluster_without_kind(
    host: FakeHost, cmd: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(preflight, "RealHost", lambda: host)
    found = local_cluster.LocalCluster(
        tmp_path, tmp_path / "kubeconfig", "greentic-local", "https://10.250.0.1:1", "/s", 1,
        "v1.33.13", tmp_path / "logs",
    )  # fmt: skip
    monkeypatch.setattr(local_cluster, "running", lambda directory=None: found)
    host.on_path.discard("kind")
    config = ["--kubeconfig", str(tmp_path / "kubeconfig")]
    cmd.on("kubectl", *config, "--context", "greentic-local", "version",
           stdout=json.dumps({"serverVersion": {"gitVersion": "v1.33.13"}}))  # fmt: skip
    cmd.on("kubectl", *config, "--context", "greentic-local", "-n", stdout="ok\n")
    lines: list[str] = []
    assert doctor_verb(lines.append, cluster="gtc-demo") == 0
    assert lines[2] == "! kind: `kind` is not on PATH (not needed: --provider local)"
    assert lines[-3:] == [
        "✓ kube context: `greentic-local` answers (server v1.33.13)",
        "✓ pod network: a pod reached another pod's Service",
        f"✓ local cluster: Kubernetes v1.33.13 running in {tmp_path} (--provider local)",
    ]
