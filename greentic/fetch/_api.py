"""`fetch(uri, dest_dir)`: dispatch a bundle reference to its source by scheme.

The worker's boot pull calls this for each routed revision with a `bundle_source_uri`, then
hands the result to `greentic.bundle.materialize.materialize_revision`.
"""

from __future__ import annotations

import os
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from greentic.fetch._deadline import DEADLINE_VAR, Deadline, parse_deadline
from greentic.fetch._refs import (
    INSECURE_VAR,
    check_insecure_entry,
    parse_insecure,
    parse_oci,
    redact,
    scheme_of,
)
from greentic.fetch._types import (
    DEFAULT_ATTEMPTS,
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT,
    FetchedBundle,
)

if TYPE_CHECKING:
    import httpx

HTTPX_CLI = "httpx._main"


def _no_cli() -> None:
    raise SystemExit("the httpx command-line tool is not loaded in this process")


def skip_httpx_cli() -> None:
    """Keep `import httpx` from importing httpx's command-line tool (#16).

    httpx's `__init__` imports `httpx._main` (click, rich, pygments) for its console script:
    40-70 ms of a pull's first network fetch that the pull never uses. A stand-in registered
    before the first `import httpx` is what that import finds instead; the `httpx` console
    script runs in its own process and is unaffected. No-op once httpx is imported.
    """
    if "httpx" in sys.modules or HTTPX_CLI in sys.modules:
        return
    stub = types.ModuleType(HTTPX_CLI, "stand-in: greentic does not use httpx's CLI")
    setattr(stub, "main", _no_cli)  # noqa: B010 - a module attribute, for `from ._main import main`
    sys.modules[HTTPX_CLI] = stub


def fetch(
    uri: str,
    dest_dir: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    transport: httpx.BaseTransport | None = None,
    insecure_registries: frozenset[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    attempts: int = DEFAULT_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
) -> FetchedBundle:
    """Fetch the bundle `uri` into a new file inside `dest_dir`, hashing while streaming.

    Schemes: `file://`/plain path, `http(s)://`, `oci://host[:port]/repo[:tag|@digest]`.
    `insecure_registries` (default: $GREENTIC_OCI_INSECURE_REGISTRIES) lists the exact
    `host[:port]`s pulled over plain HTTP. `timeout` applies to each connect/read/write;
    transient failures are retried `attempts` times in all with exponential backoff via `sleep`.
    `deadline` (default: $GREENTIC_FETCH_DEADLINE, else 900 s) bounds the whole network pull,
    retries included. Raises FetchError (over the cap or the deadline, HTTP errors,
    digest/format problems), NotFound (missing local file) or InvalidArgument (a malformed
    insecure-registry, realm-host or deadline setting). The returned path is owned by the
    caller; on any failure nothing is left in `dest_dir`.
    """
    scheme = scheme_of(uri)
    if scheme == "file":
        from greentic.fetch._file import fetch_file

        return fetch_file(uri, Path(dest_dir), max_bytes=max_bytes)
    skip_httpx_cli()
    seconds = parse_deadline(os.environ.get(DEADLINE_VAR)) if deadline is None else deadline
    if not seconds > 0:
        raise ValueError(f"deadline must be a positive number of seconds, not {deadline!r}")
    if scheme in ("http", "https"):
        from greentic.fetch._http import fetch_http

        return fetch_http(
            uri,
            Path(dest_dir),
            max_bytes=max_bytes,
            transport=transport,
            timeout=timeout,
            attempts=attempts,
            sleep=sleep,
            deadline=Deadline(seconds, f"fetching {redact(uri)}"),
        )
    from greentic.fetch._oci import pull

    if insecure_registries is None:
        insecure = parse_insecure(os.environ.get(INSECURE_VAR))
    else:
        insecure = frozenset(check_insecure_entry(e) for e in insecure_registries)
    ref = parse_oci(uri)
    return pull(
        ref,
        Path(dest_dir),
        max_bytes=max_bytes,
        insecure=insecure,
        transport=transport,
        timeout=timeout,
        attempts=attempts,
        sleep=sleep,
        deadline=Deadline(seconds, f"pulling {ref}"),
    )
