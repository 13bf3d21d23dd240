"""Bundle sources: `fetch(uri, dest_dir)` → a local file plus its streamed `sha256:` digest.

Schemes: `file://` and plain paths, `http(s)://`, `oci://host[:port]/repo[:tag|@digest]`.
Importing this package is cheap: httpx is imported only when an HTTP or OCI
reference is fetched, so the worker's cold boot pays nothing for `file://`. `push` (in
`greentic.fetch.push`) publishes a bundle to an OCI registry for `gtc bundle push`.
"""

from __future__ import annotations

from greentic.fetch._api import fetch
from greentic.fetch._deadline import DEADLINE_VAR, DEFAULT_DEADLINE
from greentic.fetch._types import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, FetchedBundle

__all__ = [
    "DEADLINE_VAR",
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT",
    "FetchedBundle",
    "fetch",
]
