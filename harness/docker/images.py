"""The docker track's images, built locally from Debian packages and this repo — never pulled.

This machine class (CI, sandboxes) reaches only the Debian and PyPI mirrors, so every image is
built here: a Debian base (debootstrap + `docker import`), `busybox:1.36.1` from Debian's
busybox-static, a registry from Debian's docker-registry, and the runtime image from
`images/runtime/Dockerfile` with wheels prepared on the host. Each tag carries a hash of its
inputs, so a changed input means a new tag and a stale image is never reused. Callers: the
docker track, scenarios and tests via `ensure_all()`; by hand `python -m harness.docker.images`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import logging
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from harness.errors import HarnessError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGES_DIR = REPO_ROOT / "images"
RUNTIME_DOCKERFILE = IMAGES_DIR / "runtime" / "Dockerfile"
REGISTRY_CONTEXT = IMAGES_DIR / "registry"

SUITE = "bookworm"
BASE_VARIANT = "minbase"
BASE_INCLUDE = ("python3", "ca-certificates")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# bookworm's python3 is 3.11: the runtime wheels are fetched for exactly this interpreter.
IMAGE_PYTHON = "3.11"
# The name the rendered pod specs use for init containers (SPEC §6.3). Debian's busybox-static
# is 1.35; the applets the pods use (sh, cp, mkdir, httpd) behave the same.
BUSYBOX_TAG = "busybox:1.36.1"
BUSYBOX_BINARY = Path("/bin/busybox")
REGISTRY_BINARY = Path("/usr/bin/docker-registry")

BASE_REPO = "greentic-base"
BUSYBOX_REPO = "greentic-busybox"
REGISTRY_REPO = "greentic-registry"
RUNTIME_REPO = "greentic-runtime"
HASH_LABEL = "greentic.image.hash"
# Set on build stages of multi-stage Dockerfiles; their untagged leftovers are pruned.
BUILD_STAGE_LABEL = "greentic.image.stage=build"
WHEELS_LABEL = "greentic.image.wheels-sha256"
# Bump when a recipe in this file changes in a way the hashed inputs do not show.
RECIPE_VERSION = "1"
HASH_LEN = 12
KEEP_OLD_IMAGES = 3
LOCK_TIMEOUT_S = 1800.0
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SETUP_FIX = "start the engine with `sudo bash .ci/docker-setup.sh`"


@dataclasses.dataclass(frozen=True)
class Images:
    """The four local image tags the docker track runs."""

    base: str
    busybox: str
    registry: str
    runtime: str


# ---------------------------------------------------------------------------------------------
# public API


def ensure_all() -> Images:
    """Build whatever is missing (once per input change) and return the four tags."""
    with _session() as client:
        base = _ensure_base(client)
        return Images(
            base=base,
            busybox=_ensure_busybox(client),
            registry=_ensure_registry(client, base),
            runtime=_ensure_runtime(client, base),
        )


def base_image() -> str:
    """`greentic-base:bookworm-<hash>`: Debian minbase + python3, imported from debootstrap."""
    with _session() as client:
        return _ensure_base(client)


def busybox_image() -> str:
    """`busybox:1.36.1`: an upstream image if one is present, else ours from busybox-static."""
    with _session() as client:
        return _ensure_busybox(client)


def registry_image() -> str:
    """`greentic-registry:<hash>`: Debian's docker-registry serving :5000 from a volume."""
    with _session() as client:
        return _ensure_registry(client, _ensure_base(client))


def runtime_image(*, base: str | None = None) -> str:
    """`greentic-runtime:<hash>` from images/runtime/Dockerfile; `base` defaults to ours."""
    with _session() as client:
        return _ensure_runtime(client, base or _ensure_base(client))


def cache_dir() -> Path:
    """Where debootstrap tarballs, wheelhouses and the build lock live (survives runs)."""
    override = os.environ.get("GREENTIC_CACHE_DIR")
    if override:
        root = Path(override)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "greentic"
    path = root / "images"
    path.mkdir(parents=True, exist_ok=True)
    return path


def mirror_from_sources(texts: Iterable[str], suite: str = SUITE) -> str | None:
    """The first Debian mirror serving `suite` main in apt sources (one-line or deb822)."""
    for text in texts:
        for paragraph in text.split("\n\n"):
            fields: dict[str, str] = {}
            for line in paragraph.splitlines():
                line = line.split("#", 1)[0].strip()
                if line.startswith("deb "):
                    words = [w for w in line.split()[1:] if not w.startswith("[")]
                    words = [w for w in words if not w.endswith("]") and "=" not in w]
                    if len(words) >= 3 and words[1] == suite and "main" in words[2:]:
                        return words[0].rstrip("/")
                elif ":" in line and not line.startswith("deb"):
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
            if (
                "deb" in fields.get("types", "").split()
                and suite in fields.get("suites", "").split()
                and "main" in fields.get("components", "").split()
                and fields.get("uris")
            ):
                return fields["uris"].split()[0].rstrip("/")
    return None


def debian_mirror() -> str:
    """The mirror debootstrap uses: $GREENTIC_DEBIAN_MIRROR, else whatever apt here uses."""
    override = os.environ.get("GREENTIC_DEBIAN_MIRROR")
    if override:
        return override
    apt = Path("/etc/apt")
    files = [apt / "sources.list", *sorted(apt.glob("sources.list.d/*"))]
    texts = [f.read_text(errors="replace") for f in files if f.is_file()]
    return mirror_from_sources(texts) or DEFAULT_MIRROR


# ---------------------------------------------------------------------------------------------
# the four recipes (callers hold the lock)


def _ensure_base(client: Any) -> str:
    recipe = {
        "suite": SUITE,
        "variant": BASE_VARIANT,
        "include": list(BASE_INCLUDE),
        "arch": _dpkg_arch(),
        "recipe": RECIPE_VERSION,
    }
    digest = _digest(json.dumps(recipe, sort_keys=True).encode())
    tag = f"{BASE_REPO}:{SUITE}-{digest[:HASH_LEN]}"
    if _exists(client, tag):
        return tag
    tarball = cache_dir() / f"base-{SUITE}-{digest[:HASH_LEN]}.tar"
    if not tarball.is_file():
        _debootstrap(tarball)
    log.info("importing %s from %s", tag, tarball)
    changes = [
        f"ENV PATH={DEFAULT_PATH}",
        "ENV LANG=C.UTF-8",
        'CMD ["/bin/bash"]',
        f"LABEL {HASH_LABEL}={digest}",
    ]
    with _docker_errors(tag, "check `docker info` and the free disk space"):
        repo, _, version = tag.partition(":")
        client.api.import_image_from_file(
            str(tarball), repository=repo, tag=version, changes=changes
        )
    return tag


def _ensure_busybox(client: Any) -> str:
    binary = _require_file(BUSYBOX_BINARY, "busybox-static")
    if is_dynamically_linked(binary):  # the scratch image has no libc to load it
        raise HarnessError(
            f"{binary} is dynamically linked (Debian's `busybox`, not `busybox-static`); "
            "`sudo apt-get install busybox-static`"
        )
    applets = _applets(binary)
    digest = _digest(binary.read_bytes(), "\n".join(applets).encode(), RECIPE_VERSION.encode())
    present = _get(client, BUSYBOX_TAG)
    if present is not None:
        label = (present.labels or {}).get(HASH_LABEL)
        if label is None or label == digest:  # an upstream busybox, or ours and current
            return BUSYBOX_TAG
    own = f"{BUSYBOX_REPO}:{digest[:HASH_LEN]}"
    if not _exists(client, own):
        log.info("building %s from %s (%d applets)", own, binary, len(applets))
        changes = [f"ENV PATH={DEFAULT_PATH}", 'CMD ["sh"]', f"LABEL {HASH_LABEL}={digest}"]
        with _docker_errors(own, "check `docker info`"):
            client.api.import_image_from_data(
                _busybox_rootfs(binary, applets),
                repository=BUSYBOX_REPO,
                tag=digest[:HASH_LEN],
                changes=changes,
            )
    with _docker_errors(BUSYBOX_TAG, "check `docker info`"):
        repo, _, version = BUSYBOX_TAG.partition(":")
        client.images.get(own).tag(repo, version)
    return BUSYBOX_TAG


def _ensure_registry(client: Any, base: str) -> str:
    binary = _require_file(REGISTRY_BINARY, "docker-registry")
    context_files = sorted(p for p in REGISTRY_CONTEXT.iterdir() if p.is_file())
    digest = _digest(
        _file_digest(binary).encode(),
        *(p.name.encode() + b"\0" + p.read_bytes() for p in context_files),
        _image_id(client, base).encode(),
        RECIPE_VERSION.encode(),
    )
    tag = f"{REGISTRY_REPO}:{digest[:HASH_LEN]}"
    if _exists(client, tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="gtc-registry-ctx-") as tmp:
        ctx = Path(tmp)
        for p in context_files:
            shutil.copy2(p, ctx / p.name)
        shutil.copy2(binary, ctx / "docker-registry")
        _build(
            client,
            ctx,
            tag,
            dockerfile=REGISTRY_CONTEXT / "Dockerfile",
            buildargs={"BASE": base},
            labels={HASH_LABEL: digest},
        )
    _prune_older(client, REGISTRY_REPO, keep=tag)
    return tag


def _ensure_runtime(client: Any, base: str) -> str:
    requirements, constraints = _pinned_requirements()
    wheelhouse_key = _digest(
        "\n".join(requirements).encode(),
        "\n".join(constraints).encode(),
        " ".join(_download_platform_args()).encode(),
    )
    dockerfile = _require_file(RUNTIME_DOCKERFILE, "this repo's images/runtime/Dockerfile")
    # The wheel is a function of the source tree it is built from, so hashing that tree (and
    # the pinned dependency set) covers the wheels without building them on a warm call.
    digest = _digest(
        source_digest().encode(),
        wheelhouse_key.encode(),
        dockerfile.read_bytes(),
        _image_id(client, base).encode(),
        RECIPE_VERSION.encode(),
    )
    tag = f"{RUNTIME_REPO}:{digest[:HASH_LEN]}"
    if _exists(client, tag):
        return tag
    wheelhouse = _ensure_wheelhouse(wheelhouse_key, requirements, constraints)
    with tempfile.TemporaryDirectory(prefix="gtc-runtime-ctx-") as tmp:
        ctx = Path(tmp)
        wheels = ctx / "wheels"
        wheels.mkdir()
        for whl in wheelhouse.glob("*.whl"):
            target = ctx / "pip.whl" if whl.name.startswith("pip-") else wheels / whl.name
            shutil.copy2(whl, target)
        _build_greentic_wheel(wheels)
        shutil.copy2(dockerfile, ctx / "Dockerfile")
        wheel_digest = _digest(
            *(p.name.encode() + p.read_bytes() for p in sorted(wheels.iterdir()))
        )
        labels = {HASH_LABEL: digest, WHEELS_LABEL: wheel_digest}
        _build(client, ctx, tag, dockerfile=dockerfile, buildargs={"BASE": base}, labels=labels)
    _prune_older(client, RUNTIME_REPO, keep=tag)
    return tag


# ---------------------------------------------------------------------------------------------
# base image: debootstrap


def _debootstrap(tarball: Path) -> None:
    """Bootstrap Debian into a scratch dir and keep only its tarball (what docker imports)."""
    if os.geteuid() != 0:
        raise HarnessError(
            f"building the Debian base image ({tarball.name}) needs root for debootstrap; "
            "run `sudo .venv/bin/python -m harness.docker.images` once (later runs reuse the image)"
        )
    if shutil.which("debootstrap") is None:
        raise HarnessError("debootstrap not found: `sudo apt-get install debootstrap`")
    mirror = debian_mirror()
    root = tarball.with_suffix(".rootfs")
    debs = cache_dir() / "debs"
    debs.mkdir(exist_ok=True)
    _remove_rootfs(root)
    started = time.monotonic()
    log.info("debootstrap %s (%s) from %s — takes a few minutes", SUITE, BASE_VARIANT, mirror)
    try:
        _run(
            [
                "debootstrap",
                f"--variant={BASE_VARIANT}",
                f"--include={','.join(BASE_INCLUDE)}",
                f"--cache-dir={debs}",
                SUITE,
                str(root),
                mirror,
            ],
            what=f"debootstrap {SUITE} from {mirror}",
            fix="check the mirror is reachable or set GREENTIC_DEBIAN_MIRROR",
        )
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (root / junk).glob("*"):
                if entry.is_file():
                    entry.unlink()
        partial = tarball.with_suffix(".tar.part")
        _run(
            ["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."],
            what=f"tar of {root}",
            fix="check the free disk space",
        )
        partial.replace(tarball)
    finally:
        _remove_rootfs(root)
    log.info("debootstrap done in %.0f s", time.monotonic() - started)


def _remove_rootfs(root: Path) -> None:
    """Delete a (maybe half-built) rootfs, unmounting what debootstrap left mounted first."""
    if not root.exists():
        return
    prefix = str(root.resolve()) + "/"
    mounts = [
        line.split()[1]
        for line in Path("/proc/mounts").read_text().splitlines()
        if line.split()[1].startswith(prefix)
    ]
    for mount in sorted(mounts, reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


@functools.cache
def _dpkg_arch() -> str:
    try:
        out = subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return os.uname().machine
    return out.stdout.strip()


# ---------------------------------------------------------------------------------------------
# busybox: a scratch rootfs with /bin/busybox and one symlink per applet


def _applets(binary: Path) -> list[str]:
    out = _run([str(binary), "--list"], what=f"{binary} --list", fix="reinstall busybox-static")
    return sorted({name for name in out.split() if name and "/" not in name} - {"busybox"})


def _busybox_rootfs(binary: Path, applets: Sequence[str]) -> bytes:
    """The image filesystem as an in-memory tar (about 2 MB), like `busybox --install -s`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for directory in ("bin", "etc", "var", "var/www"):
            _tar_add(tar, directory)
        _tar_add(tar, "root", mode=0o700)
        _tar_add(tar, "tmp", mode=0o1777)
        _tar_add(tar, "etc/passwd", kind=tarfile.REGTYPE, mode=0o644, data=_PASSWD)
        _tar_add(tar, "etc/group", kind=tarfile.REGTYPE, mode=0o644, data=_GROUP)
        _tar_add(tar, "bin/busybox", kind=tarfile.REGTYPE, data=binary.read_bytes())
        for applet in applets:
            _tar_add(tar, f"bin/{applet}", kind=tarfile.SYMTYPE, mode=0o777, link="busybox")
    return buf.getvalue()


def is_dynamically_linked(path: Path) -> bool:
    """True when the ELF file asks for a dynamic loader (has a PT_INTERP program header)."""
    with path.open("rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF":
            return False
        order = "<" if header[5] == 1 else ">"
        if header[4] == 2:  # 64-bit
            (phoff,) = struct.unpack_from(order + "Q", header, 0x20)
            phentsize, phnum = struct.unpack_from(order + "HH", header, 0x36)
        else:
            (phoff,) = struct.unpack_from(order + "I", header, 0x1C)
            phentsize, phnum = struct.unpack_from(order + "HH", header, 0x2A)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    pt_interp = 3
    return any(
        struct.unpack_from(order + "I", table, i * phentsize)[0] == pt_interp for i in range(phnum)
    )


def _tar_add(
    tar: tarfile.TarFile,
    name: str,
    *,
    kind: bytes = tarfile.DIRTYPE,
    mode: int = 0o755,
    data: bytes = b"",
    link: str = "",
) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.size = kind, mode, link, len(data)
    tar.addfile(info, io.BytesIO(data) if data else None)


_PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
_GROUP = b"root:x:0:\nnogroup:x:65534:\n"


# ---------------------------------------------------------------------------------------------
# runtime: wheels prepared on the host so the image build is offline


def _pinned_requirements() -> tuple[list[str], list[str]]:
    """greentic's runtime requirements, and this venv's versions of their closure as pins.

    Pinning to what the venv has installed means the image runs the dependency versions the
    tests run against, and only those pins (not PyPI's latest, not dev tools) decide the tag.
    """
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = sorted(str(r) for r in project.get("dependencies", []))
    return requirements, sorted(_installed_closure(requirements))


def _installed_closure(requirements: Iterable[str]) -> set[str]:
    """`name==version` for each installed distribution the requirements pull in (markers on)."""
    from packaging.requirements import Requirement  # ships with pip/pytest in every dev venv

    pins: dict[str, str] = {}
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = _normalize(req.name)
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


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _download_platform_args() -> list[str]:
    """pip flags selecting wheels for the image's CPython on bookworm (glibc 2.36)."""
    major, minor = IMAGE_PYTHON.split(".")
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(_dpkg_arch(), os.uname().machine)
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


def _ensure_wheelhouse(key: str, requirements: list[str], constraints: list[str]) -> Path:
    """Dependency wheels (+ pip itself) for the image's Python, cached per pinned set."""
    home = cache_dir() / "wheelhouse"
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
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                f"--dest={partial}",
                f"--constraint={constraints_file}",
                *_download_platform_args(),
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


def _source_files() -> list[Path]:
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
    for path in _source_files():
        rel = path.relative_to(REPO_ROOT).as_posix().encode()
        parts.append(rel + b"\0" + path.read_bytes())
    return _digest(*parts)


def _build_greentic_wheel(dest: Path) -> None:
    """`pip wheel --no-deps` from a copy of the sources, so the work tree is never touched."""
    with tempfile.TemporaryDirectory(prefix="gtc-src-") as tmp:
        src = Path(tmp)
        for path in _source_files():
            target = src / path.relative_to(REPO_ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        _run(
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


# ---------------------------------------------------------------------------------------------
# docker and subprocess plumbing


@contextlib.contextmanager
def _session() -> Iterator[Any]:
    """The build lock plus a docker client, closed afterwards (no leaked connections)."""
    with _locked():
        client = _client()
        try:
            yield client
        finally:
            client.close()


def _client() -> Any:
    import docker  # lazy: the docker SDK is only needed on the docker track

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as exc:  # DockerException, requests errors: all mean "no engine"
        raise HarnessError(f"Docker engine not reachable ({exc}); {SETUP_FIX}") from exc
    return client


@contextlib.contextmanager
def _docker_errors(image: str, fix: str) -> Iterator[None]:
    """The one place docker SDK errors become a HarnessError naming the image and the fix."""
    import docker.errors
    import requests

    try:
        yield
    except docker.errors.BuildError as exc:
        tail = (
            "".join(str(chunk.get("stream") or chunk.get("error") or "") for chunk in exc.build_log)
            .strip()
            .splitlines()[-15:]
        )
        lines = "\n  ".join(tail)
        raise HarnessError(f"building image {image} failed: {exc.msg}\n  {lines}\n{fix}") from exc
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise HarnessError(f"docker failed on image {image}: {exc}; {fix}") from exc


def _build(
    client: Any,
    ctx: Path,
    tag: str,
    *,
    dockerfile: Path,
    buildargs: dict[str, str],
    labels: dict[str, str],
) -> None:
    started = time.monotonic()
    log.info("building %s", tag)
    fix = f"fix {_shown(dockerfile)} (the failing step is at the end of the log above)"
    with _docker_errors(tag, fix):
        client.images.build(
            path=str(ctx),
            tag=tag,
            buildargs=buildargs,
            labels=labels,
            pull=False,
            rm=True,
            forcerm=True,
        )
        client.images.prune(filters={"dangling": True, "label": BUILD_STAGE_LABEL})
    log.info("built %s in %.0f s", tag, time.monotonic() - started)


def _shown(path: Path) -> str:
    """A repo-relative path for messages when the file is in the repo."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _get(client: Any, tag: str) -> Any | None:
    import docker.errors

    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.DockerException as exc:
        raise HarnessError(f"docker failed to inspect image {tag}: {exc}; {SETUP_FIX}") from exc


def _exists(client: Any, tag: str) -> bool:
    return _get(client, tag) is not None


def _image_id(client: Any, tag: str) -> str:
    image = _get(client, tag)
    if image is None:
        raise HarnessError(
            f"base image {tag} is not present locally; build it with "
            "`python -m harness.docker.images` or `docker pull` it where a registry is reachable"
        )
    return str(image.id)


def _prune_older(client: Any, repo: str, *, keep: str) -> None:
    """Drop all but the newest few tags of `repo`, so rebuilds do not fill the disk."""
    import docker.errors

    images = sorted(client.images.list(name=repo), key=lambda i: str(i.attrs.get("Created", "")))
    others = [i for i in images if keep not in i.tags]
    stale = others[: max(len(others) - (KEEP_OLD_IMAGES - 1), 0)]
    for image in stale:
        for tag in (t for t in image.tags if t.startswith(f"{repo}:")):
            with contextlib.suppress(docker.errors.DockerException):
                client.images.remove(tag, noprune=False)  # in use → conflict → kept


def _run(cmd: Sequence[str], *, what: str, fix: str) -> str:
    try:
        done = subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    except OSError as exc:
        raise HarnessError(f"{what} could not start ({exc}); {fix}") from exc
    if done.returncode != 0:
        tail = "\n  ".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise HarnessError(f"{what} failed (exit {done.returncode}):\n  {tail}\n{fix}")
    return done.stdout


def _require_file(path: Path, package: str) -> Path:
    if not path.is_file():
        raise HarnessError(
            f"{path} not found; install {package} (`sudo apt-get install {package}`)"
        )
    return path


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_LOCKS: dict[Path, FileLock] = {}


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One builder at a time across processes (xdist workers); re-entrant in a thread."""
    path = cache_dir() / "build.lock"
    lock = _LOCKS.setdefault(path, FileLock(str(path), timeout=LOCK_TIMEOUT_S))
    try:
        with lock:
            yield
    except Timeout as exc:
        raise HarnessError(
            f"waited {LOCK_TIMEOUT_S:.0f} s for another image build holding {path}; "
            "if no build is running, delete that file"
        ) from exc


# ---------------------------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m harness.docker.images [--print]`: build what is missing, then list the tags."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.docker.images", description=main.__doc__
    )
    parser.add_argument(
        "--print",
        action="store_true",
        dest="print_env",
        help="print only KEY=tag lines (GTC_BASE_IMAGE=…), for `eval` in shell scripts",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="images: %(message)s", stream=sys.stderr)
    started = time.monotonic()
    try:
        images = ensure_all()
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for field, tag in dataclasses.asdict(images).items():
        if args.print_env:
            print(f"GTC_{field.upper()}_IMAGE={tag}")
        else:
            print(f"{field:<9} {tag}")
    log.info("ready in %.1f s", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
