"""Open files a document, a user or another process may have swapped, without trusting them.

`read_regular` reads a file only when it is a regular file and (by default) not a symlink,
within a size cap, and never blocks on a FIFO (O_NONBLOCK, then fstat): the store, answers
files and bundle sources read through it. `private_dirs` creates directories 0700 and refuses
an existing symlinked directory below a root (an env dir): every store write goes through it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from greentic.errors import GreenticError, StoreError

MiB = 1024 * 1024
PRIVATE_DIR = 0o700
REGULAR_FIX = "point at a regular file (not a pipe, a device or a directory)"
SYMLINK_FIX = "replace the symlink with the regular file itself (copy the target in its place)"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _symlink(path: Path) -> bool:
    try:
        return stat.S_ISLNK(path.lstat().st_mode)
    except OSError:
        return False


def refuse_symlink(path: Path, *, what: str, error: type[GreenticError]) -> GreenticError:
    """The one error for a symlink where a regular file or directory must be."""
    return error(f"{path} is a symlink; refusing to follow it ({what})", hint=SYMLINK_FIX)


def open_regular(
    path: Path,
    *,
    what: str,
    error: type[GreenticError] = StoreError,
    follow_symlinks: bool = False,
    flags: int = os.O_RDONLY,
) -> int:
    """A file descriptor of `path`, which must be a regular file (and not a symlink unless
    `follow_symlinks`). A FIFO or device is refused without blocking. FileNotFoundError and
    other OS errors propagate for the caller to word."""
    extra = os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags | extra, 0o600)  # mode only matters with O_CREAT
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks and _symlink(path):
            raise refuse_symlink(path, what=what, error=error) from None
        if exc.errno == errno.EISDIR:
            raise error(
                f"{what} {path} is a directory, not a regular file", hint=REGULAR_FIX
            ) from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise error(f"{what} {path} is {_kind(mode)}, not a regular file", hint=REGULAR_FIX)
    os.set_blocking(fd, True)
    return fd


def read_regular(
    path: Path,
    *,
    what: str,
    error: type[GreenticError] = StoreError,
    cap: int | None = None,
    follow_symlinks: bool = False,
) -> bytes:
    """The bytes of the regular file `path` (see `open_regular`), refused past `cap` bytes."""
    fd = open_regular(path, what=what, error=error, follow_symlinks=follow_symlinks)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read() if cap is None else fh.read(cap + 1)
    if cap is not None and len(data) > cap:
        raise error(
            f"{what} {path} is over the {cap}-byte size cap",
            hint="check that it is the file you meant (these are small documents)",
        )
    return data


def _make(path: Path) -> None:
    try:
        path.mkdir(mode=PRIVATE_DIR)
    except FileExistsError:
        return
    os.chmod(path, PRIVATE_DIR)  # whatever the umask: private


def private_dirs(path: Path, *, under: Path | None = None) -> None:
    """Create `path` and its missing parents 0700. Below `under` (an env dir whose own
    symlink check the env lock did), an existing symlinked directory is a StoreError."""
    if under is None:
        missing: list[Path] = []
        cur = path
        while not cur.exists() and cur != cur.parent:
            missing.append(cur)
            cur = cur.parent
        for d in reversed(missing):
            _make(d)
        return
    cur = under
    for part in path.relative_to(under).parts:
        cur = cur / part
        try:
            st = cur.lstat()
        except FileNotFoundError:
            _make(cur)
            st = cur.lstat()
        if stat.S_ISLNK(st.st_mode):
            raise refuse_symlink(cur, what="a store directory", error=StoreError)
        if not stat.S_ISDIR(st.st_mode):
            raise StoreError(f"{cur} is not a directory; the store expects one there")
