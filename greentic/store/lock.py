"""Per-environment exclusive lock (fcntl.flock on `<env>/.lock`), held by every mutation."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def env_lock(env_dir: Path) -> Iterator[None]:
    """Hold the env's flock for the block; blocks until other writers are done."""
    env_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(env_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
