"""Build a single-node Kubernetes from the official Go modules into a cache keyed by version.

`python -m harness.kube.local.build [--version v1.33.13]` writes wrapper modules under
`~/.cache/greentic/k8s/<version>/` (k8s.io/kubernetes with every staging module replaced by its
published tag; etcd's server module; CoreDNS), builds the binaries with `CGO_ENABLED=0`, the
upstream build tags and version ldflags, and prints each binary's own `--version`. A binary
already in the cache is never rebuilt, so a second run builds nothing. Builds run at nice 19:
the machine is shared. Text work (go.mod parsing and writing) lives in `gomod`.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.kube.local import gomod

DEFAULT_KUBERNETES = "v1.33.13"
DEFAULT_COREDNS = "v1.12.4"
GO_FIX = "install Go (Debian: `apt-get install golang`, or a go1.2x toolchain on PATH)"
STEP_TIMEOUT_S = 3600.0


class BuildError(HarnessError):
    """A go command of the local-cluster build failed; the message names it and the fix."""


@dataclass(frozen=True)
class Target:
    """One binary: its file name, Go package, the wrapper module it builds in, its version argv."""

    name: str
    package: str
    wrapper: str
    version_args: tuple[str, ...] = ("--version",)


KUBE_COMMANDS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
)
# Build order: what a control-plane smoke test needs (apiserver, etcd, kubectl) comes first.
TARGETS: tuple[Target, ...] = (
    Target("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver", "kubernetes"),
    Target("etcd", "go.etcd.io/etcd/server/v3", "etcd"),
    Target("kubectl", "k8s.io/kubernetes/cmd/kubectl", "kubernetes", ("version", "--client")),
    *(Target(name, f"k8s.io/kubernetes/cmd/{name}", "kubernetes") for name in KUBE_COMMANDS[1:]),
    Target("coredns", "github.com/coredns/coredns", "coredns", ("-version",)),
)


@dataclass
class Report:
    """What one run did: seconds per step, the binaries built now, each binary's version line."""

    bin_dir: Path
    steps: dict[str, float] = field(default_factory=dict)
    built: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)


def cache_root() -> Path:
    """`$GREENTIC_CACHE_DIR` or `$XDG_CACHE_HOME/greentic` (default `~/.cache/greentic`)."""
    override = os.environ.get("GREENTIC_CACHE_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "greentic"


def version_dir(version: str) -> Path:
    """`<cache>/k8s/<version>`: wrappers in `src/`, binaries in `bin/`."""
    gomod.parse_version(version)
    return cache_root() / "k8s" / version


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One build per version at a time (two sessions would race on the same files)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / "build.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _go(args: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> str:
    """Run `go args` in `cwd`; a failure is one BuildError with the command and stderr tail."""
    go = shutil.which("go")
    if go is None:
        raise BuildError(f"`go` not found on PATH; {GO_FIX}")
    proc = subprocess.run(
        [go, *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-25:])
        raise BuildError(f"`go {' '.join(args[:3])} …` failed in {cwd}:\n{tail}")
    return proc.stdout


def _download(module: str, *, cwd: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """`go mod download -json module@version`: its Dir, GoMod, Info and (fresh) Origin."""
    found: dict[str, Any] = json.loads(_go(["mod", "download", "-json", module], cwd=cwd, env=env))
    if found.get("Error"):
        raise BuildError(f"module {module} not downloadable: {found['Error']}; check the version")
    return found


def _write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


@dataclass(frozen=True)
class Wrapper:
    """A wrapper module ready to build in: its directory and the go flags for its targets."""

    path: Path
    tags: tuple[str, ...] = ()
    ldflags: str = "-s -w"
    env: Mapping[str, str] = field(default_factory=dict)


class Builder:
    """Prepares the wrappers and builds the missing binaries of one Kubernetes version."""

    def __init__(
        self,
        version: str,
        *,
        etcd: str | None,
        coredns: str,
        toolchain: str | None,
        log: Callable[[str], None],
    ) -> None:
        self.version = version
        self.etcd = etcd
        self.coredns = coredns
        self.toolchain = toolchain
        self.log = log
        self.root = version_dir(version)
        self.report = Report(bin_dir=self.root / "bin")
        self.env = {**os.environ, "CGO_ENABLED": "0"}
        self.local_go = self._local_go()

    def _local_go(self) -> str:
        return _go(["env", "GOVERSION"], cwd=Path.cwd(), env=self.env).strip()

    def _timed(self, step: str, action: Callable[[], Any]) -> Any:
        started = time.monotonic()
        result = action()
        self.report.steps[step] = round(time.monotonic() - started, 1)
        return result

    def _env_for(self, go_line: str) -> dict[str, str]:
        """GOTOOLCHAIN only when needed: a forced one, or the module's if the local Go is older."""
        chosen = self.toolchain or gomod.toolchain_for(go_line, self.local_go)
        return {**self.env, "GOTOOLCHAIN": chosen} if chosen else dict(self.env)

    def _prepare(self, name: str, gomod_text: str, packages: Sequence[str], go_line: str) -> Path:
        path = self.root / "src" / name
        # `go mod tidy` rewrites go.mod, so the generated text is kept aside as the seed.
        changed = _write_if_changed(path / "go.mod.seed", gomod_text)
        _write_if_changed(path / "tools.go", gomod.tools_go(packages))
        if changed or not (path / "go.sum").exists():
            (path / "go.mod").write_text(gomod_text)
            (path / "go.sum").unlink(missing_ok=True)
            env = self._env_for(go_line)
            self._timed(f"tidy {name}", lambda: _go(["mod", "tidy"], cwd=path, env=env))
            self.log(f"modules for {name}: {self.report.steps[f'tidy {name}']}s (go mod tidy)")
        return path

    def kubernetes(self) -> Wrapper:
        """The k8s.io/kubernetes wrapper: staging list, go line and tags read from the release."""
        found = self._timed(
            "download k8s.io/kubernetes",
            lambda: _download(f"k8s.io/kubernetes@{self.version}", cwd=self.root, env=self.env),
        )
        text = Path(found["GoMod"]).read_text()
        staging = gomod.local_replaces(text)
        if not staging:
            raise BuildError(f"k8s.io/kubernetes@{self.version}'s go.mod replaces no module")
        go_line = gomod.go_directive(text) or "1.24"
        wrapper = gomod.kubernetes_wrapper(
            self.version, staging, go=go_line, godebug=gomod.godebug_settings(text)
        )
        packages = [t.package for t in TARGETS if t.wrapper == "kubernetes"]
        path = self._prepare("kubernetes", wrapper, packages, go_line)
        source = Path(found["Dir"])
        if self.etcd is None:
            etcd_sh = source / "hack" / "lib" / "etcd.sh"
            pinned = gomod.etcd_version(etcd_sh.read_text()) if etcd_sh.exists() else None
            self.etcd = pinned or gomod.requirement(text, "go.etcd.io/etcd/server/v3")
        golang_sh = source / "hack" / "lib" / "golang.sh"
        tags = gomod.upstream_tags(golang_sh.read_text() if golang_sh.exists() else "")
        info = json.loads(Path(found["Info"]).read_text())
        origin = found.get("Origin") or info.get("Origin") or {}
        ldflags = gomod.version_ldflags(
            self.version, commit=str(origin.get("Hash", "")), build_date=str(info.get("Time", ""))
        )
        self.log(f"k8s.io/kubernetes {self.version}: go {go_line}, {len(staging)} staging modules")
        return Wrapper(path, tuple(tags), ldflags, self._env_for(go_line))

    def plain(self, name: str, module: str, version: str) -> Wrapper:
        """A wrapper that only requires `module@version` (etcd's server, CoreDNS)."""
        found = _download(f"{module}@{version}", cwd=self.root, env=self.env)
        go_line = gomod.go_directive(Path(found["GoMod"]).read_text()) or "1.24"
        text = gomod.plain_wrapper(name, {module: version}, go=go_line)
        packages = [t.package for t in TARGETS if t.wrapper == name]
        return Wrapper(self._prepare(name, text, packages, go_line), env=self._env_for(go_line))

    def build(self, target: Target, wrapper: Wrapper) -> None:
        """`go build` one target into bin/ via a temporary name (a failed build leaves nothing)."""
        out = self.report.bin_dir / target.name
        partial = out.with_name(f".{target.name}.partial")
        args = ["build", "-trimpath", f"-ldflags={wrapper.ldflags}", "-o", str(partial)]
        if wrapper.tags:
            args.append(f"-tags={','.join(wrapper.tags)}")
        self._timed(
            f"build {target.name}",
            lambda: _go([*args, target.package], cwd=wrapper.path, env=wrapper.env),
        )
        os.replace(partial, out)
        self.report.built.append(target.name)
        self.log(f"built {target.name}: {self.report.steps[f'build {target.name}']}s")

    def run(self) -> Report:
        """Build what is missing, then read every binary's version."""
        bin_dir = self.report.bin_dir
        missing = [t for t in TARGETS if not (bin_dir / t.name).exists()]
        if missing:
            bin_dir.mkdir(parents=True, exist_ok=True)
            wrappers = {"kubernetes": self.kubernetes()}
            etcd = gomod.check_etcd(self.etcd or "")
            wrappers["etcd"] = self.plain("etcd", "go.etcd.io/etcd/server/v3", etcd)
            wrappers["coredns"] = self.plain("coredns", "github.com/coredns/coredns", self.coredns)
            for target in missing:
                self.build(target, wrappers[target.wrapper])
        self.report.versions = read_versions(bin_dir)
        _write_if_changed(bin_dir / "versions.json", json.dumps(self.report.versions, indent=2))
        return self.report


def read_versions(bin_dir: Path) -> dict[str, str]:
    """Each built binary's own version line (what the cluster will report, not what we asked)."""
    versions: dict[str, str] = {}
    for target in TARGETS:
        path = bin_dir / target.name
        if not path.exists():
            continue
        proc = subprocess.run(
            [str(path), *target.version_args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        lines = (proc.stdout + proc.stderr).strip().splitlines()
        versions[target.name] = lines[0].strip() if lines else f"(exit {proc.returncode})"
    return versions


def disk_usage(path: Path) -> int:
    """Bytes under `path` (files only; 0 if absent)."""
    if not path.exists():
        return 0
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness.kube.local.build", description=__doc__)
    parser.add_argument("--version", default=DEFAULT_KUBERNETES, help="k8s.io/kubernetes release")
    parser.add_argument("--etcd", help="go.etcd.io/etcd/server/v3 release (default: upstream pin)")
    parser.add_argument("--coredns", default=DEFAULT_COREDNS, help="CoreDNS release")
    parser.add_argument("--toolchain", help="force GOTOOLCHAIN, e.g. go1.24.9")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build (or find) the binaries and print them with their versions; 1 with the fix on error."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    os.nice(19)  # shared machine: never starve other work

    def log(line: str) -> None:
        print(line, flush=True)

    try:
        root = version_dir(args.version)
        with _locked(root):
            builder = Builder(
                args.version,
                etcd=args.etcd,
                coredns=args.coredns,
                toolchain=args.toolchain,
                log=log,
            )
            report = builder.run()
    except (HarnessError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{'built now' if report.built else 'all cached'} in {report.bin_dir}:")
    for name, line in report.versions.items():
        size = (report.bin_dir / name).stat().st_size / 2**20
        print(f"  {name:<24} {size:6.1f} MiB  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
