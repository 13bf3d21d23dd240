"""One local cluster's life: started by a detached supervisor, adopted by later processes, stopped.

`start()` builds the binaries when missing (minutes, once per version), then spawns
`python -m harness.kube.local.cluster serve --dir D` detached. The supervisor cleans what a
crashed run left, puts the node IP on `lo`, runs the control plane (`controlplane`), the node
(`node`: containerd, kubelet, kube-proxy) and CoreDNS, writes `D/state.json` once the node is
Ready and DNS is available, and on SIGTERM stops everything in reverse and undoes the host
changes (`hostnet.clean`). Later processes adopt it with `running()`; `stop()` ends it and
returns what was left on the host (empty when clean). `python -m harness.kube.local.cluster
up|down|status` are the same three for a shell.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError

CONTEXT = "greentic-local"  # the kubeconfig context (and cluster) name
DIR_ENV = "GTC_LOCAL_CLUSTER_DIR"
DEFAULT_DIR = Path("/tmp/greentic-local")
STATE = "state.json"
SUPERVISOR_LOG = "supervisor.log"
KEEP = (STATE, SUPERVISOR_LOG, ".lock")  # what a new supervisor does not wipe
START_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 120.0
DNS_TIMEOUT_S = 120.0


class LocalClusterError(HarnessError):
    """The local cluster could not start or stop; the message says where to look."""


@dataclass(frozen=True)
class LocalCluster:
    """A running local cluster, as its state file records it."""

    directory: Path
    kubeconfig: Path  # admin kubeconfig, context CONTEXT
    context: str
    server: str  # https://10.250.0.1:<port>
    containerd_address: str  # the node's containerd socket (for `ctr -a … -n k8s.io`)
    pid: int  # the supervisor
    version: str  # Kubernetes version built and running, e.g. v1.33.13
    logs: Path  # every process's stdout/stderr logs

    def to_json(self) -> dict[str, Any]:
        return {
            "kubeconfig": str(self.kubeconfig),
            "context": self.context,
            "server": self.server,
            "containerd_address": self.containerd_address,
            "pid": self.pid,
            "version": self.version,
            "logs": str(self.logs),
        }

    @classmethod
    def from_json(cls, directory: Path, data: dict[str, Any]) -> LocalCluster:
        return cls(
            directory=directory,
            kubeconfig=Path(data["kubeconfig"]),
            context=str(data["context"]),
            server=str(data["server"]),
            containerd_address=str(data["containerd_address"]),
            pid=int(data["pid"]),
            version=str(data["version"]),
            logs=Path(data["logs"]),
        )


def default_dir() -> Path:
    """`$GTC_LOCAL_CLUSTER_DIR`, else /tmp/greentic-local."""
    return Path(os.environ.get(DIR_ENV) or DEFAULT_DIR)


def _alive(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"harness.kube.local.cluster" in cmdline


def running(directory: Path | None = None) -> LocalCluster | None:
    """The cluster whose supervisor is alive in `directory`, else None."""
    directory = directory or default_dir()
    try:
        data = json.loads((directory / STATE).read_text())
        found = LocalCluster.from_json(directory, data)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found if _alive(found.pid) else None


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def ensure_built(version: str, out: Callable[[str], None]) -> Path:
    """The version's bin dir, building what is missing first (a child process at nice 19)."""
    from harness.kube.local import build

    bin_dir = build.version_dir(version) / "bin"
    if all((bin_dir / t.name).exists() for t in build.TARGETS):
        return bin_dir
    out(f"building Kubernetes {version} from the official Go modules (cold: ~15 min, once)")
    argv = [sys.executable, "-m", "harness.kube.local.build", "--version", version]
    if subprocess.run(argv, check=False).returncode != 0:
        raise LocalClusterError(f"the build of {version} failed (its output is above)")
    return bin_dir


def start(
    directory: Path | None = None,
    *,
    version: str | None = None,
    out: Callable[[str], None] = print,
) -> LocalCluster:
    """The running cluster, or a new one (binaries built first when missing; minutes cold)."""
    from harness.kube.local import build, kuberouter

    directory = directory or default_dir()
    version = version or build.DEFAULT_KUBERNETES
    with _locked(directory):
        found = running(directory)
        if found is not None:
            return found
        ensure_built(version, out)
        if kuberouter.wanted(os.environ):
            out(f"{kuberouter.ENV}={kuberouter.ENABLED}: NetworkPolicies enforced by kube-router")
            kuberouter.ensure_built(build.cache_root())
        (directory / STATE).unlink(missing_ok=True)
        log = directory / SUPERVISOR_LOG
        out(f"starting the local cluster in {directory} (log: {log})")
        argv = [sys.executable, "-m", "harness.kube.local.cluster", "serve", "--dir",
                str(directory), "--version", version]  # fmt: skip
        with open(log, "wb") as sink:
            supervisor = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while (found := running(directory)) is None:
            if supervisor.poll() is not None or time.monotonic() > deadline:
                if supervisor.poll() is None:
                    supervisor.terminate()
                raise LocalClusterError(
                    f"the local cluster did not start (supervisor exit {supervisor.wait()}); "
                    f"its log {log} ends:\n{_tail(log)}"
                )
            time.sleep(0.5)
        return found


def _binaries(version: str | None) -> list[Path]:
    """Where the node's processes' executables are (matched with the cluster dir marker)."""
    from harness.kube.local import build, kuberouter, node

    bin_dir = build.version_dir(version or build.DEFAULT_KUBERNETES) / "bin"
    return [bin_dir, node.CONTAINERD, kuberouter.root(build.cache_root()) / "bin"]


def _kill_strays(directory: Path, version: str | None) -> None:
    """After a supervisor that did not stop cleanly: its children, by binary or config path."""
    from harness.kube.local import hostnet

    for binary in _binaries(version):
        for pid in hostnet.pids_of([binary], marker=str(directory)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def stop(directory: Path | None = None, *, out: Callable[[str], None] = print) -> list[str]:
    """Stop the supervisor (processes, then host networking); what was left (empty = clean)."""
    from harness.kube.local import hostnet

    directory = directory or default_dir()
    found = running(directory)
    version = found.version if found else None
    if found is not None:
        out(f"stopping the local cluster (supervisor {found.pid})")
        os.kill(found.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _alive(found.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(found.pid):
            out(f"the supervisor did not stop in {STOP_TIMEOUT_S:.0f}s; killing it")
            os.kill(found.pid, signal.SIGKILL)
    _kill_strays(directory, version)
    hostnet.clean(directory)
    (directory / STATE).unlink(missing_ok=True)
    return hostnet.leftovers(directory, _binaries(version))


# -- the supervisor -----------------------------------------------------------------------------


class _Stop(BaseException):
    """SIGTERM/SIGINT in the supervisor: unwind the ExitStack (every stop and the clean-up)."""


def _on_signal(*_: object) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)  # one unwind; a second signal must not cut it
    raise _Stop


def _wipe(directory: Path) -> None:
    for entry in directory.iterdir():
        if entry.name in KEEP:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _kubectl(argv: list[str], *args: str, input: str | None = None) -> str:
    done = subprocess.run(
        [*argv, *args], input=input, capture_output=True, text=True, timeout=DNS_TIMEOUT_S + 30,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise LocalClusterError(f"kubectl {' '.join(args[:3])} failed: {done.stderr.strip()}")
    return done.stdout


def _start_dns(kubectl: list[str], image: str) -> None:
    from harness.kube.local.coredns import manifests

    text = yaml.safe_dump_all(manifests(image=image), sort_keys=False)
    _kubectl(kubectl, "apply", "--server-side", "--field-manager=greentic-local", "-f", "-",
             input=text)  # fmt: skip
    _kubectl(kubectl, "-n", "kube-system", "rollout", "status", "deployment/coredns",
             f"--timeout={DNS_TIMEOUT_S:.0f}s")  # fmt: skip


def serve(directory: Path, version: str) -> int:
    """The supervisor's body: up, write the state, wait for SIGTERM, tear down."""
    from harness.kube.commands import SubprocessRunner
    from harness.kube.local import build, controlplane, hostnet, images, kuberouter, node

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _on_signal)
    bin_dir = build.version_dir(version) / "bin"
    runner = SubprocessRunner()
    layout = node.Layout(directory)
    try:
        netpol = (
            kuberouter.ensure_built(build.cache_root()) if kuberouter.wanted(os.environ) else None
        )
        refusal = hostnet.foreign_state(
            hostnet.leftovers(directory), ran_here=(directory / "containerd").exists()
        )
        if refusal is not None:  # never clean up another Kubernetes' host state
            raise LocalClusterError(refusal)
        hostnet.clean(directory)  # what a crashed run of ours left
        _wipe(directory)
        with contextlib.ExitStack() as stack:
            stack.callback(hostnet.clean, directory)
            hostnet.add_node_ip()
            plane = stack.enter_context(
                controlplane.control_plane(bin_dir, directory, address=hostnet.NODE_IP)
            )
            kubectl = [str(bin_dir / "kubectl"), f"--kubeconfig={plane.kubeconfig}"]
            work = directory / "images"
            pause, pause_ref = images.pause_archive(work, version)
            dns, dns_ref = images.coredns_archive(work, bin_dir)

            def import_images(address: str) -> None:
                for archive in (pause, dns):
                    images.import_archive(address, archive, runner=runner)

            ready = stack.enter_context(
                node.node(bin_dir, layout, plane.files, plane.server, sandbox_image=pause_ref,
                          import_images=import_images, kubectl=kubectl, netpol=netpol)
            )  # fmt: skip
            _start_dns(kubectl, dns_ref)
            (layout.logs / "kubectl-version.txt").write_text(_kubectl(kubectl, "version"))
            state = LocalCluster(
                directory,
                plane.kubeconfig,
                CONTEXT,
                plane.server,
                ready.containerd_address,
                os.getpid(),
                version,
                layout.logs,
            )
            temp = directory / f"{STATE}.tmp"
            temp.write_text(json.dumps(state.to_json(), indent=2))
            temp.replace(directory / STATE)
            print(f"ready: {plane.server} (kubeconfig {plane.kubeconfig})", flush=True)
            while True:
                time.sleep(3600)
    except _Stop:
        print("stopped", flush=True)
        return 0
    except HarnessError as exc:
        print(f"error: {exc}", flush=True)
        return 1
    finally:
        (directory / STATE).unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    """`up` (start or adopt), `down` (stop; exit 1 listing leftovers), `status`, `serve`."""
    from harness.kube.local import build

    parser = argparse.ArgumentParser(prog="python -m harness.kube.local.cluster")
    parser.add_argument("verb", choices=("up", "down", "status", "serve"))
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--version", default=build.DEFAULT_KUBERNETES)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    directory = args.dir or default_dir()
    if args.verb == "serve":
        return serve(directory, args.version)
    if args.verb == "down":
        left = stop(directory)
        for line in left:
            print(f"left on the host: {line}")
        return 1 if left else 0
    try:
        found = start(directory, version=args.version) if args.verb == "up" else running(directory)
    except LocalClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if found is None:
        print(f"no local cluster running in {directory}")
        return 1
    print(f"local cluster {found.version} up: kubectl --kubeconfig {found.kubeconfig} get nodes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
