"""Pure text work for the local cluster's build: read upstream go.mod and build scripts, write the
wrapper modules that make `go build` accept `k8s.io/kubernetes` (its go.mod replaces every
staging module with a local path, which a dependency's go.mod may not do)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

WRAPPER_PREFIX = "greentic.local/k8s-build"
FALLBACK_TAGS = ("selinux", "notest")
ETCD_FLOOR = (3, 5, 13)

_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
_GO_LINE = re.compile(r"^go\s+(\d+\.\d+(?:\.\d+)?)\s*$", re.MULTILINE)
_LOCAL_TARGET = re.compile(r"^\s*(\S+)(?:\s+\S+)?\s+=>\s+(\.{1,2}/\S*)\s*$")


def _strip_comment(line: str) -> str:
    return line.split("//", 1)[0].rstrip()


def _directive_lines(gomod: str, verb: str) -> list[str]:
    """The bodies of every `verb …` line and `verb ( … )` block entry, comments dropped."""
    found: list[str] = []
    in_block = False
    for raw in gomod.splitlines():
        line = _strip_comment(raw)
        stripped = line.strip()
        if in_block:
            if stripped == ")":
                in_block = False
            elif stripped:
                found.append(stripped)
        elif stripped == f"{verb} (":
            in_block = True
        elif stripped.startswith(f"{verb} "):
            found.append(stripped[len(verb) + 1 :].strip())
    return found


def local_replaces(gomod: str) -> list[str]:
    """Modules that `gomod` replaces with a directory (`=> ./staging/src/k8s.io/api`), sorted."""
    modules = set()
    for body in _directive_lines(gomod, "replace"):
        match = _LOCAL_TARGET.match(body)
        if match:
            modules.add(match.group(1))
    return sorted(modules)


def requirement(gomod: str, module: str) -> str | None:
    """The version `gomod` requires of `module`, or None."""
    for body in _directive_lines(gomod, "require"):
        parts = body.split()
        if len(parts) >= 2 and parts[0] == module:
            return parts[1]
    return None


def go_directive(gomod: str) -> str | None:
    """The `go 1.24.0` line's version: the language level the wrapper must keep."""
    match = _GO_LINE.search(gomod)
    return match.group(1) if match else None


def godebug_settings(gomod: str) -> list[str]:
    """`godebug` settings (`default=go1.24`): they bind only in the main module, so copy them."""
    return [body for body in _directive_lines(gomod, "godebug") if "=" in body]


def parse_version(version: str) -> tuple[int, int, int]:
    """`v1.33.13` → (1, 33, 13); a pre-release or other shape is refused with the fix."""
    match = _VERSION.match(version)
    if not match:
        raise ValueError(
            f"version {version!r} is not a release like v1.33.13; pass --version vX.Y.Z"
        )
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def staging_version(kubernetes_version: str) -> str:
    """The published tag of the staging modules for a release: v1.33.13 → v0.33.13."""
    _, minor, patch = parse_version(kubernetes_version)
    return f"v0.{minor}.{patch}"


def _go_header(module: str, go: str, godebug: Sequence[str]) -> list[str]:
    lines = [f"module {module}", "", f"go {go}", ""]
    lines += [f"godebug {setting}" for setting in godebug]
    return [*lines, ""] if godebug else lines


def kubernetes_wrapper(
    version: str, staging: Iterable[str], *, go: str, godebug: Sequence[str] = ()
) -> str:
    """go.mod requiring `k8s.io/kubernetes version`, each staging module replaced by its tag."""
    tag = staging_version(version)
    lines = _go_header(f"{WRAPPER_PREFIX}/kubernetes", go, godebug)
    lines += [f"require k8s.io/kubernetes {version}", "", "replace ("]
    lines += [f"\t{module} => {module} {tag}" for module in sorted(set(staging))]
    return "\n".join([*lines, ")", ""])


def plain_wrapper(name: str, requires: Mapping[str, str], *, go: str) -> str:
    """go.mod for a module built as a dependency (etcd, coredns): requires only, no replaces."""
    lines = _go_header(f"{WRAPPER_PREFIX}/{name}", go, ())
    lines += [f"require {module} {version}" for module, version in sorted(requires.items())]
    return "\n".join([*lines, ""])


def tools_go(packages: Iterable[str]) -> str:
    """A never-built file importing the main packages, so `go mod tidy` records their modules."""
    imports = "".join(f'\t_ "{package}"\n' for package in sorted(set(packages)))
    return f"//go:build tools\n\npackage tools\n\nimport (\n{imports})\n"


def version_ldflags(version: str, *, commit: str, build_date: str) -> str:
    """`-X` flags upstream's hack/lib/version.sh sets, so `--version` reports the real release."""
    major, minor, _ = parse_version(version)
    values = {
        "gitVersion": version,
        "gitMajor": str(major),
        "gitMinor": str(minor),
        "gitCommit": commit,
        "gitTreeState": "clean" if commit else "",
        "buildDate": build_date,
    }
    flags = ["-s", "-w"]
    for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        flags += [f"-X {package}.{key}={value}" for key, value in values.items() if value]
    return " ".join(flags)


def upstream_tags(golang_sh: str) -> list[str]:
    """Tags from hack/lib/golang.sh's `gotags="selinux,notest,$(…)"`; the known pair if absent."""
    match = re.search(r'^\s*gotags="([^"$]*)', golang_sh, re.MULTILINE)
    tags = [tag for tag in (match.group(1).split(",") if match else ()) if tag]
    return tags or list(FALLBACK_TAGS)


def etcd_version(etcd_sh: str) -> str | None:
    """The etcd upstream's integration tests run (`ETCD_VERSION=${ETCD_VERSION:-3.5.24}`)."""
    match = re.search(r"ETCD_VERSION=\$\{ETCD_VERSION:-(\d+\.\d+\.\d+)\}", etcd_sh)
    return f"v{match.group(1)}" if match else None


def check_etcd(version: str) -> str:
    """`version` if the apiserver supports it (≥ 3.5.13), else a ValueError naming the fix."""
    if parse_version(version) < ETCD_FLOOR:
        floor = ".".join(str(part) for part in ETCD_FLOOR)
        raise ValueError(
            f"etcd {version} is below the apiserver's floor {floor}; pass --etcd v3.5.x"
        )
    return version


def go_version_tuple(version: str) -> tuple[int, ...]:
    """`go1.26.8` / `1.24.0` / `1.24` → comparable tuple (1, 26, 8)."""
    numbers = re.match(r"^(?:go)?(\d+(?:\.\d+)*)", version.strip())
    if not numbers:
        raise ValueError(f"cannot read Go version {version!r}")
    parts = [int(part) for part in numbers.group(1).split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def toolchain_for(directive: str, local: str) -> str | None:
    """A GOTOOLCHAIN value when the local Go is older than the module's `go` line, else None."""
    if go_version_tuple(local) >= go_version_tuple(directive):
        return None
    full = ".".join(str(part) for part in go_version_tuple(directive))
    return f"go{full}"
