"""Root filesystems built on this host: the Debian base (debootstrap) and busybox's scratch tree.

The Debian mirror is whatever apt here uses (`mirror_from_sources`, one-line or deb822), or
$GREENTIC_DEBIAN_MIRROR; debootstrap needs root and runs once per recipe (its tarball is
cached). The busybox image is `/bin/busybox` (busybox-static) plus one symlink per applet.
Used by harness.docker.images.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import struct
import subprocess
import tarfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from harness.docker import imagebuild
from harness.docker.imagebuild import log
from harness.errors import HarnessError

SUITE = "bookworm"
BASE_VARIANT = "minbase"
BASE_INCLUDE = ("python3", "ca-certificates")
DEFAULT_MIRROR = "http://deb.debian.org/debian"


def _one_line_mirror(line: str, suite: str) -> str | None:
    """The URI of a `deb [opts] URI SUITE COMPONENTS…` line serving `suite` main."""
    words = [w for w in line.split()[1:] if not w.startswith("[")]
    words = [w for w in words if not w.endswith("]") and "=" not in w]
    if len(words) >= 3 and words[1] == suite and "main" in words[2:]:
        return words[0].rstrip("/")
    return None


def _deb822_mirror(fields: dict[str, str], suite: str) -> str | None:
    """The first URI of a deb822 paragraph serving `suite` main."""
    if (
        "deb" in fields.get("types", "").split()
        and suite in fields.get("suites", "").split()
        and "main" in fields.get("components", "").split()
        and fields.get("uris")
    ):
        return fields["uris"].split()[0].rstrip("/")
    return None


def _paragraph_mirror(paragraph: str, suite: str) -> str | None:
    fields: dict[str, str] = {}
    for raw in paragraph.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("deb "):
            found = _one_line_mirror(line, suite)
            if found:
                return found
        elif ":" in line and not line.startswith("deb"):
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
    return _deb822_mirror(fields, suite)


def mirror_from_sources(texts: Iterable[str], suite: str = SUITE) -> str | None:
    """The first Debian mirror serving `suite` main in apt sources (one-line or deb822)."""
    for text in texts:
        for paragraph in text.split("\n\n"):
            found = _paragraph_mirror(paragraph, suite)
            if found:
                return found
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


def debootstrap(tarball: Path) -> None:
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
    debs = imagebuild.cache_dir() / "debs"
    debs.mkdir(exist_ok=True)
    remove_rootfs(root)
    started = time.monotonic()
    log.info("debootstrap %s (%s) from %s — takes a few minutes", SUITE, BASE_VARIANT, mirror)
    try:
        imagebuild.run(
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
        imagebuild.run(
            ["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."],
            what=f"tar of {root}",
            fix="check the free disk space",
        )
        partial.replace(tarball)
    finally:
        remove_rootfs(root)
    log.info("debootstrap done in %.0f s", time.monotonic() - started)


def remove_rootfs(root: Path) -> None:
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
def dpkg_arch() -> str:
    try:
        out = subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return os.uname().machine
    return out.stdout.strip()


# ---------------------------------------------------------------------------------------------
# busybox: a scratch rootfs with /bin/busybox and one symlink per applet


def applets(binary: Path) -> list[str]:
    out = imagebuild.run(
        [str(binary), "--list"], what=f"{binary} --list", fix="reinstall busybox-static"
    )
    return sorted({name for name in out.split() if name and "/" not in name} - {"busybox"})


def busybox_rootfs(binary: Path, applets: Sequence[str]) -> bytes:
    """The image filesystem as an in-memory tar (about 2 MB), like `busybox --install -s`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for directory in ("bin", "etc", "var", "var/www"):
            tar_add(tar, directory)
        tar_add(tar, "root", mode=0o700)
        tar_add(tar, "tmp", mode=0o1777)
        tar_add(tar, "etc/passwd", kind=tarfile.REGTYPE, mode=0o644, data=_PASSWD)
        tar_add(tar, "etc/group", kind=tarfile.REGTYPE, mode=0o644, data=_GROUP)
        tar_add(tar, "bin/busybox", kind=tarfile.REGTYPE, data=binary.read_bytes())
        for applet in applets:
            tar_add(tar, f"bin/{applet}", kind=tarfile.SYMTYPE, mode=0o777, link="busybox")
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


def tar_add(
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
