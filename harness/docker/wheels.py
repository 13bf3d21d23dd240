"""The runtime image's wheels, prepared on the host so the image build itself is offline.

Dependency wheels are pinned to this venv's versions (the image runs what the tests run),
downloaded once per pinned set for the image's CPython on bookworm; greentic's own wheel is
built from a copy of the sources, whose hash (`source_digest`) is part of the image tag. Used
by harness.docker.images.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from harness.docker import imagebuild
from harness.docker.imagebuild import REPO_ROOT, log
from harness.docker.rootfs import dpkg_arch

# bookworm's python3 is 3.11: the runtime wheels are fetched for exactly this interpreter.
IMAGE_PYTHON = "3.11"


def pinned_requirements() -> tuple[list[str], list[str]]:
    """greentic's runtime requirements, and this venv's versions of their closure as pins.

    Pinning to what the venv has installed means the image runs the dependency versions the
    tests run against, and only those pins (not PyPI's latest, not dev tools) decide the tag.
    """
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = sorted(str(r) for r in project.get("dependencies", []))
    return requirements, sorted(installed_closure(requirements))


def installed_closure(requirements: Iterable[str]) -> set[str]:
    """`name==version` for each installed distribution the requirements pull in (markers on)."""
    from packaging.requirements import Requirement  # ships with pip/pytest in every dev venv

    pins: dict[str, str] = {}
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = normalize(req.name)
        if name in pins:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not installed here: left unpinned, pip picks a version
        pins[name] = dist.version
        for raw in dist.requires or []:
            sub = Requirement(raw)
            wanted = sub.marker is None or any(
                sub.marker.evaluate({"extra": extra}) for extra in ("", *req.extras)
            )
            if wanted:
                todo.append(sub)
    return {f"{name}=={version}" for name, version in pins.items()}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def download_platform_args() -> list[str]:
    """pip flags selecting wheels for the image's CPython on bookworm (glibc 2.36)."""
    major, minor = IMAGE_PYTHON.split(".")
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(dpkg_arch(), os.uname().machine)
    # pip takes --platform literally (no widening to older glibc), so list every manylinux
    # tag bookworm's glibc 2.36 satisfies, newest first, plus the legacy aliases.
    platforms = [f"manylinux_2_{glibc}_{machine}" for glibc in range(36, 4, -1)]
    platforms += [f"manylinux{legacy}_{machine}" for legacy in ("2014", "2010", "1")]
    return [
        "--only-binary=:all:",
        f"--python-version={IMAGE_PYTHON}",
        "--implementation=cp",
        f"--abi=cp{major}{minor}",
        *(f"--platform={platform}" for platform in platforms),
    ]


def ensure_wheelhouse(key: str, requirements: list[str], constraints: list[str]) -> Path:
    """Dependency wheels (+ pip itself) for the image's Python, cached per pinned set."""
    home = imagebuild.cache_dir() / "wheelhouse"
    done = home / key[:16]
    if (done / ".complete").is_file():
        return done
    partial = home / f"{key[:16]}.part"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    pip_pin = f"pip=={metadata.version('pip')}"
    log.info("downloading runtime dependency wheels for Python %s", IMAGE_PYTHON)
    try:
        constraints_file = partial / "constraints.txt"
        constraints_file.write_text("\n".join(constraints) + "\n")
        imagebuild.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                f"--dest={partial}",
                f"--constraint={constraints_file}",
                *download_platform_args(),
                *requirements,
                pip_pin,
            ],
            what=f"pip download of the runtime dependencies into {partial}",
            fix="check PyPI is reachable and the venv's pins exist as wheels there",
        )
        (partial / ".complete").write_text("")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(done, ignore_errors=True)
    partial.replace(done)
    return done


def source_files() -> list[Path]:
    """What the greentic wheel is built from: pyproject, README and the package tree."""
    files = [REPO_ROOT / "pyproject.toml", REPO_ROOT / "README.md"]
    for path in sorted((REPO_ROOT / "greentic").rglob("*")):
        rel = path.relative_to(REPO_ROOT).parts
        hidden = any(p.startswith(".") or p == "__pycache__" for p in rel)
        if path.is_file() and not hidden and path.suffix not in (".pyc", ".pyo"):
            files.append(path)
    return files


def source_digest() -> str:
    """Hash of what the greentic wheel is built from; part of the runtime image's tag."""
    parts = []
    for path in source_files():
        rel = path.relative_to(REPO_ROOT).as_posix().encode()
        parts.append(rel + b"\0" + path.read_bytes())
    return imagebuild.digest(*parts)


def build_greentic_wheel(dest: Path) -> None:
    """`pip wheel --no-deps` from a copy of the sources, so the work tree is never touched."""
    with tempfile.TemporaryDirectory(prefix="gtc-src-") as tmp:
        src = Path(tmp)
        for path in source_files():
            target = src / path.relative_to(REPO_ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        imagebuild.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--disable-pip-version-check",
                f"--wheel-dir={dest}",
                str(src),
            ],
            what="pip wheel of greentic",
            fix="check `pip wheel --no-deps .` works in the repo (and PyPI is reachable)",
        )
