"""etcd + kube-apiserver from the local build, as supervised processes on loopback (issue #15).

`python -m harness.kube.local.controlplane [--version v1.33.13] [--dir D] [--keep]` generates the
PKI (`pki`), starts etcd (plain HTTP, loopback only) and the apiserver (TLS, client-cert auth,
RBAC, service-account keys), waits for /readyz, prints `kubectl version`, then stops both unless
`--keep` (then it waits for Ctrl-C). argv and kubeconfig builders are pure, for the unit tests.
Not yet: controller-manager, scheduler, kubelet, containerd (see docs/local-cluster.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from harness import waits
from harness.errors import HarnessError
from harness.kube.local import build, pki
from harness.ports import LOOPBACK, free_port
from harness.process import ManagedProcess

SERVICE_CIDR = "10.96.0.0/16"  # clear of Docker's 172.16/12 networks
READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Ports:
    """Loopback ports of one control plane."""

    etcd_client: int
    etcd_peer: int
    apiserver: int


def etcd_argv(binary: Path, data_dir: Path, ports: Ports) -> list[str]:
    """etcd on loopback only, one member, no TLS (nothing but the apiserver can reach it)."""
    client = f"http://{LOOPBACK}:{ports.etcd_client}"
    peer = f"http://{LOOPBACK}:{ports.etcd_peer}"
    return [
        str(binary),
        "--name=local",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=local={peer}",
        "--listen-metrics-urls=",
        "--log-level=warn",
    ]


def apiserver_argv(
    binary: Path, files: pki.ControlPlanePki, ports: Ports, cert_dir: Path
) -> list[str]:
    """kube-apiserver: TLS on loopback, client certs from our CA, RBAC, SA tokens we can verify."""
    return [
        str(binary),
        f"--etcd-servers=http://{LOOPBACK}:{ports.etcd_client}",
        f"--bind-address={LOOPBACK}",
        f"--advertise-address={LOOPBACK}",
        f"--secure-port={ports.apiserver}",
        f"--cert-dir={cert_dir}",
        f"--tls-cert-file={files.apiserver_cert}",
        f"--tls-private-key-file={files.apiserver_key}",
        f"--client-ca-file={files.ca}",
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={files.sa_pub}",
        f"--service-account-signing-key-file={files.sa_key}",
        "--profiling=false",
    ]


def kubeconfig(
    server: str, files: pki.ControlPlanePki, *, name: str = "greentic-local"
) -> dict[str, Any]:
    """An admin kubeconfig that points at the files (no secrets copied into it)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority": str(files.ca)}}
        ],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate": str(files.admin_cert),
                    "client-key": str(files.admin_key),
                },
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": "admin"}}],
        "current-context": name,
    }


@dataclass(frozen=True)
class Running:
    """A started control plane: its kubeconfig path and server URL."""

    kubeconfig: Path
    server: str


@contextlib.contextmanager
def control_plane(bin_dir: Path, directory: Path) -> Iterator[Running]:
    """Start etcd, then the apiserver; wait for /readyz. Both stop on exit, even a failed start."""
    files = pki.write_control_plane(directory / "pki")
    ports = Ports(free_port(), free_port(), free_port())
    logs = directory / "logs"
    server = f"https://{LOOPBACK}:{ports.apiserver}"
    config = directory / "kubeconfig"
    config.write_text(yaml.safe_dump(kubeconfig(server, files), sort_keys=False))
    env = dict(os.environ)
    etcd = ManagedProcess(
        etcd_argv(bin_dir / "etcd", directory / "etcd", ports), env=env, logs_dir=logs, name="etcd"
    )
    apiserver = ManagedProcess(
        apiserver_argv(bin_dir / "kube-apiserver", files, ports, directory / "apiserver-certs"),
        env=env,
        logs_dir=logs,
        name="kube-apiserver",
    )
    with etcd, apiserver:
        transport = httpx.HTTPTransport(
            verify=str(files.ca), cert=(str(files.admin_cert), str(files.admin_key))
        )
        waits.until_http(
            f"{server}/readyz",
            timing=waits.Timing(timeout=READY_TIMEOUT_S, interval=0.5),
            watch=apiserver,
            transport=transport,
            hint=f"read {logs}/kube-apiserver.stderr.log and etcd.stderr.log",
        ).status(200)
        yield Running(config, server)


def main(argv: Sequence[str] | None = None) -> int:
    """Bring the control plane up, print `kubectl version`, tear it down (or keep it)."""
    parser = argparse.ArgumentParser(prog="python -m harness.kube.local.controlplane")
    parser.add_argument("--version", default=build.DEFAULT_KUBERNETES)
    parser.add_argument("--dir", type=Path, help="state, PKI and logs (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep running until Ctrl-C")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    bin_dir = build.version_dir(args.version) / "bin"
    if not (bin_dir / "kube-apiserver").exists():
        print(f"error: no binaries in {bin_dir}; run `python -m harness.kube.local.build`")
        return 1
    directory = args.dir or Path(tempfile.mkdtemp(prefix="greentic-local-"))
    try:
        with control_plane(bin_dir, directory) as running:
            print(f"kubeconfig: {running.kubeconfig}", flush=True)
            kubectl = [str(bin_dir / "kubectl"), f"--kubeconfig={running.kubeconfig}"]
            subprocess.run([*kubectl, "version"], check=False, timeout=30)
            if args.keep:
                with contextlib.suppress(KeyboardInterrupt):
                    subprocess.run(["sleep", "infinity"], check=False)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
