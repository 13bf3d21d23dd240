"""The local cluster for real (#15): up, a pod in a restricted namespace resolves and reaches the
API, a non-compliant pod is refused, down leaves nothing on the host.

Needs root, Debian's containerd and CNI plugins, docker (for the busybox image) and the built
binaries (`python -m harness.kube.local.build`; built on demand, ~10-15 min cold). Selected with
`-m local_cluster`; `.ci/run` runs it before the cluster track, while no local cluster is up
(there can be one per host: the node IP, the bridge and the iptables chains are shared names).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.kube.commands import SubprocessRunner
from harness.kube.local import cluster, hostnet, images

pytestmark = [pytest.mark.local_cluster, pytest.mark.timeout(1800)]

RESTRICTED = {
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
PROBE = (
    "nslookup kubernetes.default.svc.cluster.local && "
    "echo | nc -w 5 10.96.0.1 443 && echo API-REACHED"
)


def _kubectl(found: cluster.LocalCluster, *args: str, input: str | None = None) -> str:
    done = subprocess.run(
        ["kubectl", f"--kubeconfig={found.kubeconfig}", *args],
        input=input, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def _pod(name: str, image: str, security: dict[str, object]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "restricted"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "probe",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", PROBE],
                    "securityContext": security,
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def local() -> Iterator[cluster.LocalCluster]:
    if os.geteuid() != 0:
        pytest.skip("the local cluster needs root (network, mounts, containerd)")
    if cluster.running() is not None:
        pytest.fail(
            "a local cluster is already running: `python demo.py cluster-down --provider local`"
        )
    found = cluster.start()
    yield found
    left = cluster.stop()
    assert left == [], f"left on the host after cluster-down: {left}"
    assert hostnet.leftovers(found.directory) == []


def test_the_server_reports_the_version_that_was_built(local: cluster.LocalCluster) -> None:
    version = json.loads(_kubectl(local, "version", "-o", "json"))
    assert version["serverVersion"]["gitVersion"] == local.version
    assert (local.logs / "kubectl-version.txt").read_text().count(local.version) >= 1
    nodes = json.loads(_kubectl(local, "get", "nodes", "-o", "json"))["items"]
    assert [n["metadata"]["name"] for n in nodes] == ["greentic-local"]


def test_a_restricted_pod_resolves_and_reaches_the_api_a_privileged_one_is_refused(
    local: cluster.LocalCluster,
) -> None:
    from harness.docker import images as built

    busybox = images.import_docker_image(
        local.containerd_address, built.ensure_all().busybox, runner=SubprocessRunner()
    )
    _kubectl(local, "create", "namespace", "restricted")
    _kubectl(
        local, "label", "namespace", "restricted", "pod-security.kubernetes.io/enforce=restricted"
    )
    refused = subprocess.run(
        ["kubectl", f"--kubeconfig={local.kubeconfig}", "apply", "-f", "-"],
        input=json.dumps(_pod("rooted", busybox, {"privileged": True})),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "violates PodSecurity" in refused.stderr
    _kubectl(local, "apply", "-f", "-", input=json.dumps(_pod("probe", busybox, RESTRICTED)))
    succeeded = "--for=jsonpath={.status.phase}=Succeeded"
    _kubectl(local, "-n", "restricted", "wait", "pod/probe", succeeded, "--timeout=120s")
    logs = _kubectl(local, "-n", "restricted", "logs", "probe")
    assert "Address: 10.96.0.1" in logs and "API-REACHED" in logs


def test_host_state_is_there_while_up(local: cluster.LocalCluster) -> None:
    """The clean-up check is not vacuous: while up, `leftovers` sees the cluster's host state."""
    seen = "\n".join(hostnet.leftovers(local.directory, [Path("/usr/bin/containerd")]))
    assert f"bridge {hostnet.BRIDGE}" in seen and "KUBE-SERVICES" in seen
    assert f"address {hostnet.NODE_IP}/32 on lo" in seen and "process " in seen
