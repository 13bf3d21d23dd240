"""The docker track's images, built locally from Debian packages and this repo — never pulled.

This machine class (CI, sandboxes) reaches only the Debian and PyPI mirrors, so every image is
built here: a Debian base (debootstrap + `docker import`), `busybox:1.36.1` from Debian's
busybox-static, a registry from Debian's docker-registry, and the runtime image from
`images/runtime/Dockerfile` with wheels prepared on the host. Each tag carries a hash of its
inputs, so a changed input means a new tag and a stale image is never reused. Callers: the
docker track, scenarios and tests via `ensure_all()`; by hand `python -m harness.docker.images`.
"""

import argparse
import dataclasses
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.docker import imagebuild, rootfs, wheels
from harness.docker.imagebuild import REPO_ROOT, cache_dir, log
from harness.docker.rootfs import (
    BASE_INCLUDE,
    BASE_VARIANT,
    SUITE,
    debian_mirror,
    is_dynamically_linked,
    mirror_from_sources,
)
from harness.docker.wheels import IMAGE_PYTHON, source_digest
from harness.errors import HarnessError

__all__ = [
    "IMAGE_PYTHON",
    "REPO_ROOT",
    "SUITE",
    "Images",
    "base_image",
    "busybox_image",
    "cache_dir",
    "debian_mirror",
    "ensure_all",
    "is_dynamically_linked",
    "main",
    "mirror_from_sources",
    "registry_image",
    "runtime_image",
    "source_digest",
]

IMAGES_DIR = REPO_ROOT / "images"
RUNTIME_DOCKERFILE = IMAGES_DIR / "runtime" / "Dockerfile"
REGISTRY_CONTEXT = IMAGES_DIR / "registry"

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
WHEELS_LABEL = "greentic.image.wheels-sha256"
# Bump when a recipe in this file changes in a way the hashed inputs do not show.
RECIPE_VERSION = "1"
HASH_LEN = 12
# A real cloudflared for the runtime image (seeds/000: the image ships it); without one the
# image has none, and the tunnel scenario layers its fake on top (harness.docker.fakenet).
CLOUDFLARED_ENV = "GTC_CLOUDFLARED_BINARY"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


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
    with imagebuild.session() as client:
        base = _ensure_base(client)
        return Images(
            base=base,
            busybox=_ensure_busybox(client),
            registry=_ensure_registry(client, base),
            runtime=_ensure_runtime(client, base),
        )


def base_image() -> str:
    """`greentic-base:bookworm-<hash>`: Debian minbase + python3, imported from debootstrap."""
    with imagebuild.session() as client:
        return _ensure_base(client)


def busybox_image() -> str:
    """`busybox:1.36.1`: an upstream image if one is present, else ours from busybox-static."""
    with imagebuild.session() as client:
        return _ensure_busybox(client)


def registry_image() -> str:
    """`greentic-registry:<hash>`: Debian's docker-registry serving :5000 from a volume."""
    with imagebuild.session() as client:
        return _ensure_registry(client, _ensure_base(client))


def runtime_image(*, base: str | None = None) -> str:
    """`greentic-runtime:<hash>` from images/runtime/Dockerfile; `base` defaults to ours."""
    with imagebuild.session() as client:
        return _ensure_runtime(client, base or _ensure_base(client))


# ---------------------------------------------------------------------------------------------
# the four recipes (callers hold the lock)


def _ensure_base(client: Any) -> str:
    recipe = {
        "suite": SUITE,
        "variant": BASE_VARIANT,
        "include": list(BASE_INCLUDE),
        "arch": rootfs.dpkg_arch(),
        "recipe": RECIPE_VERSION,
    }
    digest = imagebuild.digest(json.dumps(recipe, sort_keys=True).encode())
    tag = f"{BASE_REPO}:{SUITE}-{digest[:HASH_LEN]}"
    if imagebuild.exists(client, tag):
        return tag
    tarball = cache_dir() / f"base-{SUITE}-{digest[:HASH_LEN]}.tar"
    if not tarball.is_file():
        rootfs.debootstrap(tarball)
    log.info("importing %s from %s", tag, tarball)
    changes = [
        f"ENV PATH={DEFAULT_PATH}",
        "ENV LANG=C.UTF-8",
        'CMD ["/bin/bash"]',
        f"LABEL {HASH_LABEL}={digest}",
    ]
    with imagebuild.docker_errors(tag, "check `docker info` and the free disk space"):
        repo, _, version = tag.partition(":")
        client.api.import_image_from_file(
            str(tarball), repository=repo, tag=version, changes=changes
        )
    return tag


def _ensure_busybox(client: Any) -> str:
    binary = imagebuild.require_file(BUSYBOX_BINARY, "busybox-static")
    if is_dynamically_linked(binary):  # the scratch image has no libc to load it
        raise HarnessError(
            f"{binary} is dynamically linked (Debian's `busybox`, not `busybox-static`); "
            "`sudo apt-get install busybox-static`"
        )
    applets = rootfs.applets(binary)
    digest = imagebuild.digest(
        binary.read_bytes(), "\n".join(applets).encode(), RECIPE_VERSION.encode()
    )
    present = imagebuild.get(client, BUSYBOX_TAG)
    if present is not None:
        label = (present.labels or {}).get(HASH_LABEL)
        if label is None or label == digest:  # an upstream busybox, or ours and current
            return BUSYBOX_TAG
    own = f"{BUSYBOX_REPO}:{digest[:HASH_LEN]}"
    if not imagebuild.exists(client, own):
        log.info("building %s from %s (%d applets)", own, binary, len(applets))
        changes = [f"ENV PATH={DEFAULT_PATH}", 'CMD ["sh"]', f"LABEL {HASH_LABEL}={digest}"]
        with imagebuild.docker_errors(own, "check `docker info`"):
            client.api.import_image_from_data(
                rootfs.busybox_rootfs(binary, applets),
                repository=BUSYBOX_REPO,
                tag=digest[:HASH_LEN],
                changes=changes,
            )
    with imagebuild.docker_errors(BUSYBOX_TAG, "check `docker info`"):
        repo, _, version = BUSYBOX_TAG.partition(":")
        client.images.get(own).tag(repo, version)
    return BUSYBOX_TAG


def _ensure_registry(client: Any, base: str) -> str:
    binary = imagebuild.require_file(REGISTRY_BINARY, "docker-registry")
    context_files = sorted(p for p in REGISTRY_CONTEXT.iterdir() if p.is_file())
    digest = imagebuild.digest(
        imagebuild.file_digest(binary).encode(),
        *(p.name.encode() + b"\0" + p.read_bytes() for p in context_files),
        imagebuild.image_id(client, base).encode(),
        RECIPE_VERSION.encode(),
    )
    tag = f"{REGISTRY_REPO}:{digest[:HASH_LEN]}"
    if imagebuild.exists(client, tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="gtc-registry-ctx-") as tmp:
        ctx = Path(tmp)
        for p in context_files:
            shutil.copy2(p, ctx / p.name)
        shutil.copy2(binary, ctx / "docker-registry")
        imagebuild.build(
            client,
            ctx,
            tag,
            dockerfile=REGISTRY_CONTEXT / "Dockerfile",
            buildargs={"BASE": base},
            labels={HASH_LABEL: digest},
        )
    imagebuild.prune_older(client, REGISTRY_REPO, keep=tag)
    return tag


def supplied_cloudflared() -> Path | None:
    """The cloudflared binary `$GTC_CLOUDFLARED_BINARY` names, or None when it is unset."""
    named = os.environ.get(CLOUDFLARED_ENV, "").strip()
    if not named:
        return None
    path = Path(named)
    if not path.is_file():
        raise HarnessError(
            f"${CLOUDFLARED_ENV} names {path}, which is not a file\nHint: point it at a "
            "cloudflared binary for this machine's architecture, or unset it"
        )
    return path


def _ensure_runtime(client: Any, base: str) -> str:
    cloudflared = supplied_cloudflared()
    requirements, constraints = wheels.pinned_requirements()
    wheelhouse_key = imagebuild.digest(
        "\n".join(requirements).encode(),
        "\n".join(constraints).encode(),
        " ".join(wheels.download_platform_args()).encode(),
    )
    dockerfile = imagebuild.require_file(
        RUNTIME_DOCKERFILE, "this repo's images/runtime/Dockerfile"
    )
    # The wheel is a function of the source tree it is built from, so hashing that tree (and
    # the pinned dependency set) covers the wheels without building them on a warm call.
    digest = imagebuild.digest(
        source_digest().encode(),
        wheelhouse_key.encode(),
        dockerfile.read_bytes(),
        imagebuild.image_id(client, base).encode(),
        (imagebuild.file_digest(cloudflared) if cloudflared else "no cloudflared").encode(),
        RECIPE_VERSION.encode(),
    )
    tag = f"{RUNTIME_REPO}:{digest[:HASH_LEN]}"
    if imagebuild.exists(client, tag):
        return tag
    wheelhouse = wheels.ensure_wheelhouse(wheelhouse_key, requirements, constraints)
    with tempfile.TemporaryDirectory(prefix="gtc-runtime-ctx-") as tmp:
        ctx = Path(tmp)
        wheel_dir = ctx / "wheels"
        wheel_dir.mkdir()
        for whl in wheelhouse.glob("*.whl"):
            target = ctx / "pip.whl" if whl.name.startswith("pip-") else wheel_dir / whl.name
            shutil.copy2(whl, target)
        wheels.build_greentic_wheel(wheel_dir)
        (ctx / "bin").mkdir()  # the Dockerfile copies bin/ (empty: no cloudflared)
        if cloudflared is not None:
            shutil.copy2(cloudflared, ctx / "bin" / "cloudflared")
            (ctx / "bin" / "cloudflared").chmod(0o755)
        shutil.copy2(dockerfile, ctx / "Dockerfile")
        wheel_digest = imagebuild.digest(
            *(p.name.encode() + p.read_bytes() for p in sorted(wheel_dir.iterdir()))
        )
        labels = {HASH_LABEL: digest, WHEELS_LABEL: wheel_digest}
        imagebuild.build(
            client, ctx, tag, dockerfile=dockerfile, buildargs={"BASE": base}, labels=labels
        )
    imagebuild.prune_older(client, RUNTIME_REPO, keep=tag)
    return tag


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
