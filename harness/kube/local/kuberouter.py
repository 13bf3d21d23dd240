"""Opt-in NetworkPolicy enforcement for the local cluster: kube-router's firewall alone.

The node's CNI (bridge + firewall) ignores NetworkPolicies, and the kernel has no NFT_QUEUE or
IP_VS but has IP_SET and NETFILTER_XT_SET, so kube-router with only its firewall controller
(`--run-firewall`, no router, no service proxy) enforces them with iptables and ipsets.
`GTC_LOCAL_NETPOL=kube-router` turns it on (default off: docs/local-cluster.md says why).

Built like the Kubernetes binaries, from its Go module (the proxy serves v2.1.0 only), into its
own cache key `<cache>/k8s/kube-router-<version>/`. It runs as the admin identity for now.
Its ipsets (`KUBE-SRC-*`, `KUBE-DST-*`) outlive it: `hostnet` removes and lists them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from harness.errors import HarnessError
from harness.kube.local import pki

ENV = "GTC_LOCAL_NETPOL"
ENABLED = "kube-router"
MODULE = "github.com/cloudnativelabs/kube-router/v2"
VERSION = "v2.1.0"
PACKAGE = f"{MODULE}/cmd/kube-router"
SERVICE_CIDR = "10.96.0.0/16"
BUILD_TIMEOUT_S = 3600.0


class KubeRouterError(HarnessError):
    """kube-router could not be built; the message names the go step and the fix."""


def wanted(environ: Mapping[str, str]) -> bool:
    """Is kube-router asked for? Any other non-empty value is a typo worth failing on."""
    value = environ.get(ENV, "").strip()
    if value and value != ENABLED:
        raise KubeRouterError(f"{ENV}={value!r} is not known; use {ENV}={ENABLED} or unset it")
    return value == ENABLED


def root(cache: Path, version: str = VERSION) -> Path:
    """`<cache>/k8s/kube-router-<version>`: wrapper in `src/`, binary in `bin/`."""
    return cache / "k8s" / f"kube-router-{version}"


def wrapper_gomod(version: str = VERSION) -> str:
    """The wrapper module: requires kube-router, nothing else (tidy fills the rest)."""
    return f"module greentic.local/kube-router\n\ngo 1.21\n\nrequire {MODULE} {version}\n"


def tools_go() -> str:
    """Keeps the command's package in the wrapper's build list."""
    return f'//go:build tools\n\npackage tools\n\nimport _ "{PACKAGE}"\n'


def argv(binary: Path, kubeconfig: Path) -> list[str]:
    """Firewall only; the node's name; the service range (it needs no pod CIDR: local pods are
    found by their host IP); no health or metrics listener."""
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        "--run-firewall=true",
        "--run-router=false",
        "--run-service-proxy=false",
        f"--hostname-override={pki.NODE_NAME}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--health-port=0",
        "--metrics-port=0",
        "--v=1",
    ]


def _go(args: list[str], cwd: Path) -> None:
    go = shutil.which("go")
    if go is None:
        raise KubeRouterError("`go` not found on PATH; install Go to build kube-router")
    env = {**os.environ, "CGO_ENABLED": "0"}
    done = subprocess.run(
        ["nice", "-n", "19", go, *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise KubeRouterError(f"`go {' '.join(args[:2])}` for kube-router failed in {cwd}:\n{tail}")


def ensure_built(cache: Path) -> Path:
    """The kube-router binary, built first when missing (about 3 minutes here, once)."""
    base = root(cache)
    binary = base / "bin" / "kube-router"
    if binary.exists():
        return binary
    src = base / "src"
    src.mkdir(parents=True, exist_ok=True)
    (src / "go.mod").write_text(wrapper_gomod())
    (src / "tools.go").write_text(tools_go())
    (src / "go.sum").unlink(missing_ok=True)
    _go(["mod", "tidy"], src)
    partial = binary.with_name(".kube-router.partial")
    binary.parent.mkdir(parents=True, exist_ok=True)
    _go(["build", "-trimpath", "-ldflags=-s -w", "-o", str(partial), PACKAGE], src)
    partial.replace(binary)
    return binary
