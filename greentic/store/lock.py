"""Per-environment exclusive lock (fcntl.flock on `<env>/.lock`), held by every mutation.

The env dir is created private (0700) and must not be a symlink; `.lock` is opened without
following a symlink (a planted link would create a file elsewhere). `dir_lock` is the same
lock on any private directory (the operator key dir).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from greentic.errors import StoreError
from greentic.store.files import private_dirs

LOCK_FILE = ".lock"


def _open_lock(path: Path) -> int:
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StoreError(
                f"{path} is a symlink; refusing to follow it (the store lock file)",
                hint=f"delete {path}; the lock file is recreated as a regular file",
            ) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StoreError(f"{path} is not a regular file", hint=f"delete {path}; it is recreated")
    return fd


@contextmanager
def dir_lock(directory: Path) -> Iterator[None]:
    """Hold the flock of `directory/.lock` (created 0700/0600) for the block."""
    private_dirs(directory)
    fd = _open_lock(directory / LOCK_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def env_lock(env_dir: Path) -> Iterator[None]:
    """Hold the env's flock for the block; blocks until other writers are done."""
    try:
        if stat.S_ISLNK(env_dir.lstat().st_mode):
            raise StoreError(
                f"{env_dir} is a symlink; refusing to follow it (an environment directory)",
                hint="move the environment directory itself into the store root, or point "
                "--store-root at the real location",
            )
    except FileNotFoundError:
        pass
    with dir_lock(env_dir):
        yield
