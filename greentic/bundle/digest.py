"""Content digests (`sha256:<hex>`) over whole files, streamed so memory stays flat.

The deployer's `revisions stage` pins a bundle with `sha256_file`; materialization and the
pack-list lock use the same helpers, so a pinned digest and a computed one always agree.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024
PREFIX = "sha256:"
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def format_digest(hexdigest: str) -> str:
    """`sha256:` + lowercase hex: the one spelling of a content digest."""
    return PREFIX + hexdigest.lower()


def sha256_bytes(data: bytes) -> str:
    """Digest of an in-memory blob (manifests, small configs)."""
    return format_digest(hashlib.sha256(data).hexdigest())


def sha256_stream(stream: BinaryIO) -> tuple[str, int]:
    """Digest and byte count of everything left in `stream`, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        h.update(chunk)
        size += len(chunk)
    return format_digest(h.hexdigest()), size


def sha256_file(path: Path) -> str:
    """Digest of the whole file at `path`, streamed (never loads the file into memory)."""
    with open(path, "rb") as fh:
        return sha256_stream(fh)[0]


def is_digest(value: str) -> bool:
    """True when `value` is `sha256:` followed by 64 lowercase hex digits."""
    return bool(DIGEST_RE.match(value))
