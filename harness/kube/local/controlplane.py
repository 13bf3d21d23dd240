"""etcd + kube-apiserver from the local build, as supervised processes on loopback (issue #15).

`python -m harness.kube.local.controlplane [--version v1.33.13] [--dir D] [--keep]` generates the
PKI (`pki`), starts etcd (plain HTTP, loopback only) and the apiserver (TLS, client-cert auth,
RBAC, service-account keys), waits for /readyz, starts the controller-manager and scheduler,
prints `kubectl version`, then stops them all unless `--keep` (then it waits for Ctrl-C). argv
and kubeconfig builders are pure, for the unit tests. Not yet: kubelet, containerd, CNI,
kube-proxy, CoreDNS (see docs/local-cluster.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
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
    controller_manager: int = 0
    scheduler: int = 0


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
    binary: Path,
    files: pki.ControlPlanePki,
    ports: Ports,
    cert_dir: Path,
    *,
    address: str = LOOPBACK,
) -> list[str]:
    """kube-apiserver: TLS on `address`, client certs from our CA, RBAC, SA tokens we can verify.

    With a node, `address` is the node IP: the `kubernetes` Service's endpoint is the advertise
    address, and 127.0.0.1 inside a pod is the pod itself (finding 3)."""
    return [
        str(binary),
        f"--etcd-servers=http://{LOOPBACK}:{ports.etcd_client}",
        f"--bind-address={address}",
        f"--advertise-address={address}",
        f"--secure-port={ports.apiserver}",
        f"--cert-dir={cert_dir}",
        f"--tls-cert-file={files.apiserver_cert}",
        f"--tls-private-key-file={files.apiserver_key}",
        f"--client-ca-file={files.ca}",
        f"--kubelet-client-certificate={files.client('apiserver-kubelet-client')[0]}",
        f"--kubelet-client-key={files.client('apiserver-kubelet-client')[1]}",
        "--kubelet-preferred-address-types=InternalIP",  # the node name does not resolve
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={files.sa_pub}",
        f"--service-account-signing-key-file={files.sa_key}",
        "--profiling=false",
    ]


def controller_manager_argv(
    binary: Path, files: pki.ControlPlanePki, config: Path, port: int
) -> list[str]:
    """kube-controller-manager: per-controller service accounts, signs with our CA."""
    return [
        str(binary),
        f"--kubeconfig={config}",
        f"--authentication-kubeconfig={config}",
        f"--authorization-kubeconfig={config}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={port}",
        "--leader-elect=false",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={files.sa_key}",
        f"--root-ca-file={files.ca}",
        f"--cluster-signing-cert-file={files.ca}",
        f"--cluster-signing-key-file={files.ca_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--profiling=false",
    ]


def scheduler_argv(binary: Path, config: Path, port: int) -> list[str]:
    """kube-scheduler with the default profile."""
    return [
        str(binary),
        f"--kubeconfig={config}",
        f"--authentication-kubeconfig={config}",
        f"--authorization-kubeconfig={config}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={port}",
        "--leader-elect=false",
        "--profiling=false",
    ]


def kubeconfig(
    server: str, files: pki.ControlPlanePki, *, user: str = "admin", name: str = "greentic-local"
) -> dict[str, Any]:
    """A kubeconfig for one of pki.CLIENTS that points at the files (no key copied into it)."""
    cert, key = files.client(user)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority": str(files.ca)}}
        ],
        "users": [
            {
                "name": user,
                "user": {"client-certificate": str(cert), "client-key": str(key)},
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user}}],
        "current-context": name,
    }


def write_kubeconfig(directory: Path, server: str, files: pki.ControlPlanePki, user: str) -> Path:
    """`directory/kubeconfig` (admin) or `directory/<user>.kubeconfig`."""
    path = directory / ("kubeconfig" if user == "admin" else f"{user}.kubeconfig")
    path.write_text(yaml.safe_dump(kubeconfig(server, files, user=user), sort_keys=False))
    return path


@dataclass(frozen=True)
class Running:
    """A started control plane: its kubeconfig path, server URL and PKI."""

    kubeconfig: Path
    server: str
    files: pki.ControlPlanePki


@contextlib.contextmanager
def control_plane(bin_dir: Path, directory: Path, *, address: str = LOOPBACK) -> Iterator[Running]:
    """etcd, the apiserver on `address` (until /readyz), then controller-manager and scheduler.

    Every process is stopped on exit, in reverse order, even after a failed start.
    """
    files = pki.write_control_plane(directory / "pki", address=address)
    ports = Ports(*(free_port() for _ in range(5)))
    logs = directory / "logs"
    server = f"https://{address}:{ports.apiserver}"
    admin = write_kubeconfig(directory, server, files, "admin")

    def process(name: str, argv: list[str]) -> ManagedProcess:
        return ManagedProcess(argv, env=dict(os.environ), logs_dir=logs, name=name)

    etcd = process("etcd", etcd_argv(bin_dir / "etcd", directory / "etcd", ports))
    apiserver = process(
        "kube-apiserver",
        apiserver_argv(
            bin_dir / "kube-apiserver", files, ports, directory / "apiserver-certs", address=address
        ),
    )
    controllers = process(
        "kube-controller-manager",
        controller_manager_argv(
            bin_dir / "kube-controller-manager",
            files,
            write_kubeconfig(directory, server, files, "controller-manager"),
            ports.controller_manager,
        ),
    )
    scheduler = process(
        "kube-scheduler",
        scheduler_argv(
            bin_dir / "kube-scheduler",
            write_kubeconfig(directory, server, files, "scheduler"),
            ports.scheduler,
        ),
    )
    with contextlib.ExitStack() as stack:
        stack.enter_context(etcd)
        stack.enter_context(apiserver)
        cert, key = files.client("admin")
        transport = httpx.HTTPTransport(verify=str(files.ca), cert=(str(cert), str(key)))
        waits.until_http(
            f"{server}/readyz",
            timing=waits.Timing(timeout=READY_TIMEOUT_S, interval=0.5),
            watch=apiserver,
            transport=transport,
            hint=f"read {logs}/kube-apiserver.stderr.log and etcd.stderr.log",
        ).status(200)
        stack.enter_context(controllers)
        stack.enter_context(scheduler)
        yield Running(admin, server, files)


def _wait_for_stop() -> None:
    """Until SIGINT or SIGTERM (a background job ignores SIGINT, so both are caught here)."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


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
                _wait_for_stop()
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
