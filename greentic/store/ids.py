"""ULID minting for revisions, deployments, endpoints and audit events (26 chars, uppercase).

`ulid` is imported where an id is minted, not with the module: python-ulid reads its own
version through `importlib.metadata` on import (~5–20 ms), and read-only paths such as
`gtc op env show` and a worker boot mint none (#16, docs/decisions.md).
"""

from __future__ import annotations

import hashlib


def new_ulid() -> str:
    """A fresh, time-ordered ULID string."""
    from ulid import ULID

    return str(ULID())


def derived_ulid(*parts: str) -> str:
    """A deterministic ULID from the first 16 bytes of SHA-256 over the NUL-joined parts."""
    from ulid import ULID

    digest = hashlib.sha256(("\0".join(parts) + "\0").encode()).digest()[:16]
    return str(ULID.from_bytes(digest))
