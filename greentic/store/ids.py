"""ULID minting for revisions, deployments, endpoints and audit events (26 chars, uppercase)."""

from __future__ import annotations

import hashlib

from ulid import ULID


def new_ulid() -> str:
    """A fresh, time-ordered ULID string."""
    return str(ULID())


def derived_ulid(*parts: str) -> str:
    """A deterministic ULID from the first 16 bytes of SHA-256 over the NUL-joined parts."""
    digest = hashlib.sha256(("\0".join(parts) + "\0").encode()).digest()[:16]
    return str(ULID.from_bytes(digest))
