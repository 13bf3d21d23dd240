"""Failure-atomic file writes: temp file in the same dir → fsync → rename → fsync dir.

Every store write goes through here so a reader never sees a half-written file. Store files
are private (0600, directories 0700): they hold answers, bindings and audit trails. The
rename replaces a symlink at the target rather than writing through it; `under` (the env dir)
also refuses a symlinked directory on the way down.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from greentic.store.files import private_dirs

PRIVATE_FILE = 0o600


def fsync_dir(path: Path) -> None:
    """Persist a rename/unlink in `path` (a directory entry change needs the dir fsynced)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(
    path: Path,
    data: bytes,
    *,
    mode: int = PRIVATE_FILE,
    durable: bool = True,
    under: Path | None = None,
    sync_dir: bool = True,
) -> None:
    """Atomically replace `path` with `data` (creating private parent dirs, no symlinked one
    below `under`). `durable=False` skips the fsyncs: still all-or-nothing for readers, but may
    be lost in a power cut — for runtime state such as pid files, which a reboot makes stale.
    `sync_dir=False` keeps the file's fsync but leaves the directory's to the caller (a
    staging dir fsynced as a whole before it is renamed into place)."""
    private_dirs(path.parent, under=under)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable and sync_dir:
        fsync_dir(path.parent)


def pretty_json(doc: Any) -> bytes:
    """Pretty JSON + trailing newline: the on-disk form of every store document."""
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def write_json(
    path: Path,
    doc: Any,
    *,
    mode: int = PRIVATE_FILE,
    durable: bool = True,
    under: Path | None = None,
    sync_dir: bool = True,
) -> None:
    """Atomically write `doc` as pretty JSON."""
    data = pretty_json(doc)
    write_bytes(path, data, mode=mode, durable=durable, under=under, sync_dir=sync_dir)


def remove(path: Path) -> bool:
    """Unlink `path` durably; returns whether it existed."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True
