"""Docker and subprocess plumbing of the image builds: one builder at a time, errors named.

`session()` holds the cross-process build lock and a docker client; `build`, `get`,
`image_id`, `prune_older` wrap the SDK so its errors become HarnessErrors naming the image and
the fix; `run` wraps subprocesses the same way; `digest` hashes recipe inputs. Used by
harness.docker.images, .rootfs and .wheels.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from harness.errors import HarnessError

log = logging.getLogger("harness.docker.images")

REPO_ROOT = Path(__file__).resolve().parents[2]
# Set on build stages of multi-stage Dockerfiles; their untagged leftovers are pruned.
BUILD_STAGE_LABEL = "greentic.image.stage=build"
KEEP_OLD_IMAGES = 3
LOCK_TIMEOUT_S = 1800.0
SETUP_FIX = "start the engine with `sudo bash .ci/docker-setup.sh`"


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


@contextlib.contextmanager
def session() -> Iterator[Any]:
    """The build lock plus a docker client, closed afterwards (no leaked connections)."""
    with locked():
        found = client()
        try:
            yield found
        finally:
            found.close()


def client() -> Any:
    import docker  # lazy: the docker SDK is only needed on the docker track

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as exc:  # DockerException, requests errors: all mean "no engine"
        raise HarnessError(f"Docker engine not reachable ({exc}); {SETUP_FIX}") from exc
    return client


@contextlib.contextmanager
def docker_errors(image: str, fix: str) -> Iterator[None]:
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


def build(
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
    fix = f"fix {shown(dockerfile)} (the failing step is at the end of the log above)"
    with docker_errors(tag, fix):
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


def shown(path: Path) -> str:
    """A repo-relative path for messages when the file is in the repo."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def get(client: Any, tag: str) -> Any | None:
    import docker.errors

    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.DockerException as exc:
        raise HarnessError(f"docker failed to inspect image {tag}: {exc}; {SETUP_FIX}") from exc


def exists(client: Any, tag: str) -> bool:
    return get(client, tag) is not None


def image_id(client: Any, tag: str) -> str:
    image = get(client, tag)
    if image is None:
        raise HarnessError(
            f"base image {tag} is not present locally; build it with "
            "`python -m harness.docker.images` or `docker pull` it where a registry is reachable"
        )
    return str(image.id)


def prune_older(client: Any, repo: str, *, keep: str) -> None:
    """Drop all but the newest few tags of `repo`, so rebuilds do not fill the disk."""
    import docker.errors

    images = sorted(client.images.list(name=repo), key=lambda i: str(i.attrs.get("Created", "")))
    others = [i for i in images if keep not in i.tags]
    stale = others[: max(len(others) - (KEEP_OLD_IMAGES - 1), 0)]
    for image in stale:
        for tag in (t for t in image.tags if t.startswith(f"{repo}:")):
            with contextlib.suppress(docker.errors.DockerException):
                client.images.remove(tag, noprune=False)  # in use → conflict → kept


def run(cmd: Sequence[str], *, what: str, fix: str) -> str:
    try:
        done = subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    except OSError as exc:
        raise HarnessError(f"{what} could not start ({exc}); {fix}") from exc
    if done.returncode != 0:
        tail = "\n  ".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise HarnessError(f"{what} failed (exit {done.returncode}):\n  {tail}\n{fix}")
    return done.stdout


def require_file(path: Path, package: str) -> Path:
    if not path.is_file():
        raise HarnessError(
            f"{path} not found; install {package} (`sudo apt-get install {package}`)"
        )
    return path


def digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_LOCKS: dict[Path, FileLock] = {}


@contextlib.contextmanager
def locked() -> Iterator[None]:
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
