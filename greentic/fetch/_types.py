"""The result of a fetch, the defaults, and the retryable error the retry loop looks for."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from greentic.errors import FetchError

DEFAULT_MAX_BYTES = 512 * 1024 * 1024  # upstream's HTTP body limit
DEFAULT_TIMEOUT = 30.0
DEFAULT_ATTEMPTS = 4
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FetchedBundle:
    """A bundle on local disk: `path` (inside the caller's dest_dir), the `sha256:` digest and
    size of the bytes the fetch wrote, and `file_id`, the (st_dev, st_ino) of the file it wrote
    them to: the digest gate trusts the digest only for that very file (greentic.bundle.staging)."""

    path: Path
    digest: str
    size: int
    file_id: tuple[int, int] | None = None


class TransientFetchError(FetchError):
    """Raised when a failure is worth retrying: connect errors, timeouts, 5xx/408/429 answers."""
