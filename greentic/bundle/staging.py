"""Stage a pulled bundle into a revision's partial dir and name the digest the gate checks.

A fetch's own file is hard-linked (or kernel-copied) and its digest is the one the fetch
computed while writing it, provided the staged file is provably that file; anything else (a
user's file, a `Pulled` without a digest, another file under the fetched name) is hashed here.
Called by `greentic.bundle.materialize` (the digest gate); docs/decisions.md, #16.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from greentic.bundle import stored
from greentic.errors import IoError, NotFound


class Pulled(Protocol):
    """What materialization needs of a fetched bundle (`greentic.fetch.FetchedBundle`).

    The file is the caller's own copy: it may be hard-linked into the store, so delete it
    freely afterwards but never rewrite it in place (a bare Path is always copied). `digest`
    and `size` describe the bytes the fetch wrote, `file_id` the (st_dev, st_ino) of the file
    it wrote them to. When the staged file is that very file (linked, or copied from it) the
    digest gate checks `digest` against the pin, as a content store trusts what it hashed on
    ingest; otherwise (no digest or id, another file under that name) the staged bytes are
    hashed here (docs/decisions.md, #16)."""

    @property
    def path(self) -> Path: ...

    @property
    def digest(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def file_id(self) -> tuple[int, int] | None: ...


def stage_bundle(fetched: Pulled | Path, dst: Path) -> str:
    """Stage the pulled bundle at `dst` (durable) and return the sha256 of the staged bytes:
    the digest its fetch computed when they are provably that fetch's file, else hashed here
    (a user's file, a `Pulled` without a digest, or another file under the fetched name)."""
    # A `Pulled` is the caller's own copy: hard-linked when it can be (written once, by the
    # fetch); a bare path is a user's file, which may be rewritten later: copied.
    if isinstance(fetched, Path):
        src, link = fetched, False
    else:
        src, link = Path(fetched.path), True
    try:
        fd, source = stored.stage_file(src, dst, link=link)
    except FileNotFoundError:
        raise NotFound(f"fetched bundle {src} does not exist") from None
    except OSError as exc:
        raise IoError(f"cannot stage {src} into {dst.parent}: {exc.strerror or exc}") from None
    try:
        os.fsync(fd)  # cheap for a linked file the fetch already made durable
        return _fetch_digest(fetched, source) or stored.sha256_fd(fd)
    finally:
        os.close(fd)


def _fetch_digest(fetched: Pulled | Path, source: os.stat_result) -> str:
    """The fetch's digest when `source` (the file staged) is the file that fetch wrote: the same
    inode and size as it committed; "" otherwise."""
    if isinstance(fetched, Path) or not fetched.digest:
        return ""
    if fetched.file_id != (source.st_dev, source.st_ino) or fetched.size != source.st_size:
        return ""
    return fetched.digest
