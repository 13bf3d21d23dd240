"""The local cluster's node: containerd (Debian's, our own instance), CNI, kubelet, kube-proxy.

`node(...)` writes the configs, starts a second containerd with the CRI plugin (never Docker's:
its own root, state, socket and runc root under the cluster directory), imports the pause
image, starts the kubelet and kube-proxy and waits until the Node is Ready. On exit it stops
them and kills what containerd's shims still run; `hostnet.clean` then undoes the host changes.
The config builders are pure, for the unit tests. Findings behind each setting:
docs/local-cluster.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness import waits
from harness.errors import HarnessError
from harness.kube.local import hostnet, kuberouter, pki
from harness.ports import LOOPBACK, free_port
from harness.process import ManagedProcess

CONTAINERD = Path("/usr/bin/containerd")
CNI_BIN_DIR = Path("/usr/lib/cni")
CNI_PLUGINS = ("bridge", "host-local", "loopback", "portmap", "firewall")
CLUSTER_DNS = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
NODE_READY_TIMEOUT_S = 120.0
SOCKET_TIMEOUT_S = 30.0


class NodeError(HarnessError):
    """The node could not start; the message names the part and where its log is."""


@dataclass(frozen=True)
class Layout:
    """Where one node keeps its state (all under the cluster directory)."""

    root: Path

    @property
    def containerd(self) -> Path:
        return self.root / "containerd"

    @property
    def socket(self) -> Path:
        return self.containerd / "containerd.sock"

    @property
    def cni_conf(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def kubelet(self) -> Path:
        return self.root / "kubelet"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


def containerd_config(layout: Layout, *, sandbox_image: str) -> str:
    """containerd 1.6 config (TOML, version 2) for the node's own instance.

    `restrict_oom_score_adj`: root here lacks CAP_SYS_RESOURCE, so the CRI's -998 for sandboxes
    fails every pod start (finding 1); runc's `Root` keeps its state off Docker's paths."""
    c = layout.containerd
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return "\n".join(
        [
            "version = 2",
            f'root = "{c / "root"}"',
            f'state = "{c / "state"}"',
            "[grpc]",
            f'  address = "{layout.socket}"',
            "[ttrpc]",
            f'  address = "{layout.socket}.ttrpc"',
            "[metrics]",
            '  address = ""',
            '[plugins."io.containerd.internal.v1.opt"]',
            f'  path = "{c / "opt"}"',
            f"[{cri}]",
            f'  sandbox_image = "{sandbox_image}"',
            "  restrict_oom_score_adj = true",
            f'  stream_server_address = "{LOOPBACK}"',
            f"[{cri}.containerd]",
            '  snapshotter = "overlayfs"',
            '  default_runtime_name = "runc"',
            f"[{cri}.containerd.runtimes.runc]",
            '  runtime_type = "io.containerd.runc.v2"',
            f"[{cri}.containerd.runtimes.runc.options]",
            f'  Root = "{c / "runc"}"',
            "  SystemdCgroup = false",
            f"[{cri}.cni]",
            f'  bin_dir = "{CNI_BIN_DIR}"',
            f'  conf_dir = "{layout.cni_conf}"',
            "",
        ]
    )


def cni_conflist(layout: Layout) -> dict[str, Any]:
    """bridge (+ host-local) → portmap → firewall. The firewall plugin's CNI-FORWARD chain is
    what lets pod traffic past Docker's `FORWARD DROP`; hairpin lets a pod reach itself through
    its own Service."""
    return {
        "cniVersion": "0.4.0",
        "name": "gtc-local",
        "plugins": [
            {
                "type": "bridge",
                "bridge": hostnet.BRIDGE,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": hostnet.POD_CIDR}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(layout.root / "cni" / "ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "firewall"},
        ],
    }


def kubelet_config(layout: Layout, files: pki.ControlPlanePki, *, port: int) -> dict[str, Any]:
    """KubeletConfiguration: cgroupfs (no systemd here), webhook authn/authz with our CA, no
    read-only or healthz port, image GC off (containerd 1.6 does not pin the sandbox image),
    eviction thresholds that a shared CI disk does not trip."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": hostnet.NODE_IP,
        "port": port,
        "healthzPort": 0,
        "readOnlyPort": 0,
        "cgroupDriver": "cgroupfs",
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{layout.socket}",
        "podLogsDir": str(layout.kubelet / "pod-logs"),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(files.ca)},
        },
        "authorization": {"mode": "Webhook"},
        "clusterDNS": [CLUSTER_DNS],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": "/etc/resolv.conf",
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
        },
        "serializeImagePulls": False,
    }


def kubelet_argv(binary: Path, layout: Layout, config: Path, kubeconfig: Path) -> list[str]:
    """The kubelet as node `pki.NODE_NAME` on the node IP (a loopback node IP is refused)."""
    return [
        str(binary),
        f"--config={config}",
        f"--kubeconfig={kubeconfig}",
        f"--root-dir={layout.kubelet / 'root'}",
        f"--cert-dir={layout.kubelet / 'pki'}",
        f"--hostname-override={pki.NODE_NAME}",
        f"--node-ip={hostnet.NODE_IP}",
        "--v=1",
    ]


def kube_proxy_argv(binary: Path, kubeconfig: Path, healthz: int, metrics: int) -> list[str]:
    """kube-proxy in iptables mode (the kernel has no IPVS); `:0` ports are refused."""
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        "--proxy-mode=iptables",
        f"--cluster-cidr={hostnet.CLUSTER_CIDR}",
        f"--hostname-override={pki.NODE_NAME}",
        f"--healthz-bind-address={LOOPBACK}:{healthz}",
        f"--metrics-bind-address={LOOPBACK}:{metrics}",
        "--conntrack-max-per-core=0",
        "--v=1",
    ]


def ctr_argv(layout: Layout, *args: str) -> list[str]:
    """`ctr` against the node's containerd, namespace k8s.io (the CRI's)."""
    return ["ctr", "-a", str(layout.socket), "-n", "k8s.io", *args]


def missing_prerequisites() -> list[str]:
    """What the node needs from Debian and is not installed, one fix line each."""
    missing = []
    if not CONTAINERD.exists():
        missing.append(f"{CONTAINERD} (apt-get install containerd)")
    absent = [p for p in CNI_PLUGINS if not (CNI_BIN_DIR / p).exists()]
    if absent:
        missing.append(
            f"CNI plugins {', '.join(absent)} (apt-get install containernetworking-plugins)"
        )
    return missing


# -- the shell ----------------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


def _node_ready(kubectl: list[str]) -> bool:
    done = subprocess.run(
        [*kubectl, "get", "node", pki.NODE_NAME, "-o",
         'jsonpath={.status.conditions[?(@.type=="Ready")].status}'],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return done.returncode == 0 and done.stdout.strip() == "True"


def wait_node_ready(kubectl: list[str], kubelet: ManagedProcess, logs: Path) -> None:
    """Until the Node reports Ready (or the kubelet exits, or the timeout)."""
    waits.Poll(
        what=f"node {pki.NODE_NAME} Ready",
        attempt=lambda: True if _node_ready(kubectl) else None,
        timing=waits.Timing(timeout=NODE_READY_TIMEOUT_S, interval=1.0),
        watch=kubelet,
        hint=f"read {logs}/kubelet.stderr.log and containerd.stderr.log",
    ).run()


def kill_containers(layout: Layout) -> None:
    """SIGKILL every task of the node's containerd and remove it (shims outlive containerd)."""
    listed = subprocess.run(
        ctr_argv(layout, "tasks", "ls", "-q"), capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip
    for task in listed.stdout.split():
        for args in (("tasks", "kill", "-s", "SIGKILL", task), ("tasks", "delete", "-f", task)):
            subprocess.run(ctr_argv(layout, *args), capture_output=True, timeout=30, check=False)


@dataclass(frozen=True)
class Node:
    """A Ready node: where its containerd listens (for image imports)."""

    layout: Layout
    containerd_address: str


@contextlib.contextmanager
def node(
    bin_dir: Path,
    layout: Layout,
    files: pki.ControlPlanePki,
    server: str,
    *,
    sandbox_image: str,
    import_images: Any,
    kubectl: list[str],
    netpol: Path | None = None,
) -> Iterator[Node]:
    """containerd → `import_images(address)` (pause first) → kubelet → kube-proxy → Ready;
    then kube-router's firewall when `netpol` is its binary (opt-in: `kuberouter`)."""
    from harness.kube.local.controlplane import write_kubeconfig

    missing = missing_prerequisites()
    if missing:
        raise NodeError("the node needs: " + "; ".join(missing))
    config = _write(
        layout.containerd / "config.toml", containerd_config(layout, sandbox_image=sandbox_image)
    )
    _write(layout.cni_conf / "10-gtc-local.conflist", json.dumps(cni_conflist(layout), indent=2))
    kubelet_cfg = _write(
        layout.kubelet / "config.yaml",
        yaml.safe_dump(kubelet_config(layout, files, port=free_port()), sort_keys=False),
    )
    configs = layout.root / "kubeconfigs"
    configs.mkdir(parents=True, exist_ok=True)
    kubelet_kc = write_kubeconfig(configs, server, files, "kubelet")
    proxy_kc = write_kubeconfig(configs, server, files, "kube-proxy")

    def process(name: str, argv: list[str]) -> ManagedProcess:
        return ManagedProcess(argv, env=dict(os.environ), logs_dir=layout.logs, name=name)

    containerd = process("containerd", [str(CONTAINERD), f"--config={config}"])
    kubelet = process("kubelet", kubelet_argv(bin_dir / "kubelet", layout, kubelet_cfg, kubelet_kc))
    proxy = process(
        "kube-proxy", kube_proxy_argv(bin_dir / "kube-proxy", proxy_kc, free_port(), free_port())
    )
    with contextlib.ExitStack() as stack:
        stack.enter_context(containerd)
        stack.callback(kill_containers, layout)  # runs before containerd stops
        waits.Poll(
            what=f"containerd socket {layout.socket}",
            attempt=lambda: True if layout.socket.exists() else None,
            timing=waits.Timing(timeout=SOCKET_TIMEOUT_S, interval=0.1),
            watch=containerd,
        ).run()
        import_images(str(layout.socket))
        stack.enter_context(kubelet)
        stack.enter_context(proxy)
        wait_node_ready(kubectl, kubelet, layout.logs)
        if netpol is not None:
            admin_kc = write_kubeconfig(configs, server, files, "admin")
            stack.enter_context(process("kube-router", kuberouter.argv(netpol, admin_kc)))
        yield Node(layout, str(layout.socket))
