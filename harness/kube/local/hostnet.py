"""What the local cluster changes on the host, and undoing all of it (issue #15, finding 5).

The node's processes leave host state behind when they stop: the node address on `lo`, the CNI
bridge, iptables chains (`KUBE-*` from the kubelet and kube-proxy, `CNI-*` from the bridge,
portmap and firewall plugins) in iptables and ip6tables, ipsets (kube-router), pod network
namespaces, mounts under the cluster's directory (pod volumes, container root filesystems),
container processes whose shims outlive containerd, and the kubelet's `kubepods` cgroups.
`clean()` removes every one of them (idempotent: also the first step of a start, after a crash);
`leftovers()` lists what remains, so a test and `cluster-down` can say "nothing left". Planning
(which iptables commands, which mounts in which order) is pure; running them is the shell.

Ours only: the bridge and chains have our names or the Kubernetes/CNI prefixes (Docker uses
`DOCKER*` chains and `/var/run/docker/netns`), mounts are under our directory, cgroups are
`kubepods`, ipsets are `KUBE-*` (kube-router's, when `GTC_LOCAL_NETPOL=kube-router`).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

NODE_IP = "10.250.0.1"  # on `lo` as a /32: not loopback to the kubelet, local to the host
BRIDGE = "gtc-local0"
POD_CIDR = "10.244.0.0/24"
CLUSTER_CIDR = "10.244.0.0/16"
NETNS_DIR = Path("/run/netns")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CHAIN_PREFIXES = ("KUBE-", "CNI-")
TABLES = ("filter", "nat", "mangle")
IPSET_PREFIXES = ("KUBE-",)  # kube-router's firewall (GTC_LOCAL_NETPOL): KUBE-SRC-*, KUBE-DST-*
IPTABLES = ("iptables", "ip6tables")
COMMAND_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Rule:
    """One `iptables -S` line: its chain and the rest of the spec."""

    chain: str
    spec: tuple[str, ...]


def _ours(chain: str) -> bool:
    return chain.startswith(CHAIN_PREFIXES)


def parse_rules(listing: str) -> tuple[list[str], list[Rule]]:
    """(declared chains, rules) of one table's `iptables -t T -S` output."""
    chains: list[str] = []
    rules: list[Rule] = []
    for line in listing.splitlines():
        words = shlex.split(line)  # comments are quoted: `-D` must get them as one word
        if len(words) >= 2 and words[0] == "-N":
            chains.append(words[1])
        elif len(words) >= 2 and words[0] == "-A":
            rules.append(Rule(words[1], tuple(words[2:])))
    return chains, rules


def _target(spec: Sequence[str]) -> str | None:
    for flag in ("-j", "-g"):
        if flag in spec and spec.index(flag) + 1 < len(spec):
            return spec[spec.index(flag) + 1]
    return None


def iptables_cleanup(tool: str, table: str, listing: str) -> list[list[str]]:
    """The commands that remove our chains from one table: first every jump into them from a
    chain that is not ours (Docker's and the built-in chains stay as they are), then flush all
    of ours (so none references another), then delete them."""
    chains, rules = parse_rules(listing)
    mine = [chain for chain in chains if _ours(chain)]
    commands: list[list[str]] = []
    for rule in rules:
        target = _target(rule.spec)
        if not _ours(rule.chain) and target is not None and _ours(target):
            commands.append([tool, "-w", "-t", table, "-D", rule.chain, *rule.spec])
    commands += [[tool, "-w", "-t", table, "-F", chain] for chain in mine]
    commands += [[tool, "-w", "-t", table, "-X", chain] for chain in mine]
    return commands


def our_chains(listing: str) -> list[str]:
    """The chains of ours a table still declares."""
    return [chain for chain in parse_rules(listing)[0] if _ours(chain)]


def our_ipsets(names: str) -> list[str]:
    """Our sets in `ipset list -n` output (destroyed after the chains that match on them)."""
    return [name for name in names.split() if name.startswith(IPSET_PREFIXES)]


def mounts_under(mountinfo: str, root: Path) -> list[Path]:
    """Mount points at or below `root` from /proc/self/mountinfo, deepest first (unmount order)."""
    prefix = str(root).rstrip("/")
    found = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        point = fields[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            found.append(Path(point))
    return sorted(set(found), key=lambda p: (-len(p.parts), str(p)))


# -- the shell ----------------------------------------------------------------------------------


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )


def _listing(tool: str, table: str) -> str:
    if shutil.which(tool) is None:
        return ""
    done = _run([tool, "-w", "-t", table, "-S"])
    return done.stdout if done.returncode == 0 else ""


def _ipsets() -> list[str]:
    if shutil.which("ipset") is None:
        return []
    done = _run(["ipset", "list", "-n"])
    return our_ipsets(done.stdout) if done.returncode == 0 else []


def has_node_ip() -> bool:
    """Is NODE_IP on `lo`?"""
    return f" {NODE_IP}/32 " in _run(["ip", "-4", "addr", "show", "dev", "lo"]).stdout


def add_node_ip() -> None:
    """Put NODE_IP on `lo` (idempotent). The kubelet refuses a loopback node IP, and the kernel
    here has no dummy interface; a /32 on `lo` is local to the host and reachable from pods."""
    if not has_node_ip():
        done = _run(["ip", "addr", "add", f"{NODE_IP}/32", "dev", "lo"])
        if done.returncode != 0:
            raise OSError(f"cannot add {NODE_IP}/32 to lo (root needed): {done.stderr.strip()}")


def _processes() -> Iterator[tuple[int, str, str]]:
    """(pid, executable or "", command line) of every other process we may read."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        try:
            exe = os.readlink(entry / "exe")
        except OSError:
            exe = ""
        yield int(entry.name), exe, cmdline


def pids_of(paths: Iterable[Path], *, marker: str) -> list[int]:
    """Processes running a binary that is one of `paths` (or below a directory in `paths`)
    whose command line names `marker` (the cluster directory: every node process's config is
    there), so another cluster's or Docker's containerd is never matched."""
    roots = [str(p) for p in paths]
    return [
        pid
        for pid, exe, cmdline in _processes()
        if exe and marker in cmdline and any(exe == r or exe.startswith(r + "/") for r in roots)
    ]


def shim_pids(directory: Path) -> list[int]:
    """containerd shims (and so their containers) started for our containerd: their command
    line names our state directory's socket."""
    marker = str(directory)
    return [
        pid
        for pid, _, cmdline in _processes()
        if "containerd-shim" in cmdline and marker in cmdline
    ]


def _kill_tree(pid: int) -> None:
    """SIGKILL `pid` and its descendants (a shim's containers are its children)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    with contextlib.suppress(OSError):
        for child in children.read_text().split():
            _kill_tree(int(child))
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _netns() -> list[Path]:
    return sorted(NETNS_DIR.glob("cni-*")) if NETNS_DIR.is_dir() else []


def _kubepods() -> list[Path]:
    """`kubepods` cgroup directories of every mounted v1 hierarchy (and a v2 root)."""
    if not CGROUP_ROOT.is_dir():
        return []
    found = [CGROUP_ROOT / "kubepods"] + [
        h / "kubepods" for h in CGROUP_ROOT.iterdir() if h.is_dir() and not h.is_symlink()
    ]
    return [path for path in found if path.is_dir()]


def _remove_cgroup(path: Path) -> None:
    """rmdir a cgroup tree bottom-up (cgroupfs dirs are removed with rmdir, never unlink)."""
    for sub in sorted(path.rglob("*"), key=lambda p: -len(p.parts)):
        if sub.is_dir():
            with contextlib.suppress(OSError):
                sub.rmdir()
    with contextlib.suppress(OSError):
        path.rmdir()


def clean(directory: Path) -> None:
    """Undo everything the cluster in `directory` may have changed on the host (see the module
    docstring). Safe to call at any time, many times; call it with no node process running."""
    for pid in shim_pids(directory):
        _kill_tree(pid)
    for namespace in _netns():
        _run(["umount", str(namespace)])
        with contextlib.suppress(OSError):
            namespace.unlink()
    mountinfo = Path("/proc/self/mountinfo").read_text()
    for point in mounts_under(mountinfo, directory):
        if _run(["umount", str(point)]).returncode != 0:
            _run(["umount", "-l", str(point)])
    _run(["ip", "link", "delete", BRIDGE])
    for tool in IPTABLES:
        for table in TABLES:
            for argv in iptables_cleanup(tool, table, _listing(tool, table)):
                _run(argv)
    for name in _ipsets():  # only now: a set still matched by a rule cannot be destroyed
        _run(["ipset", "destroy", name])
    for cgroup in _kubepods():
        _remove_cgroup(cgroup)
    if has_node_ip():
        _run(["ip", "addr", "del", f"{NODE_IP}/32", "dev", "lo"])


def foreign_state(found: Sequence[str], *, ran_here: bool) -> str | None:
    """Why the cluster must not start, or None. `clean()` removes every `KUBE-*`/`CNI-*` chain
    and ipset, `cni-*` netns and `kubepods` cgroup; that is right after a crash of ours
    (`ran_here`: our directory holds a node's state), and would break another Kubernetes on
    this host (k3s, minikube --driver=none) if it were not ours."""
    if ran_here or not found:
        return None
    shown = "; ".join(found[:3]) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
    return (
        f"this host already has Kubernetes networking that the local cluster did not make "
        f"({shown}). Stop that Kubernetes first (or use it: `pytest -m kind --kube-context "
        f"CTX`); the local cluster cleans these names up and would break it"
    )


def leftovers(directory: Path, binaries: Sequence[Path] = ()) -> list[str]:
    """What the cluster left on the host, one line each; empty when clean."""
    found: list[str] = []
    found += [f"process {pid}" for pid in pids_of(binaries, marker=str(directory))]
    found += [f"containerd shim {pid}" for pid in shim_pids(directory)]
    found += [f"network namespace {ns}" for ns in _netns()]
    mountinfo = Path("/proc/self/mountinfo").read_text()
    found += [f"mount {point}" for point in mounts_under(mountinfo, directory)]
    if _run(["ip", "link", "show", BRIDGE]).returncode == 0:
        found.append(f"bridge {BRIDGE}")
    for tool in IPTABLES:
        for table in TABLES:
            found += [f"{tool} -t {table} chain {c}" for c in our_chains(_listing(tool, table))]
    found += [f"ipset {name}" for name in _ipsets()]
    found += [f"cgroup {path}" for path in _kubepods()]
    if has_node_ip():
        found.append(f"address {NODE_IP}/32 on lo")
    return found
