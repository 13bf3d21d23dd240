"""`http(s)://` sources: one streamed GET (redirects followed) into a capped, hashed sink.

Each attempt starts from an empty temp file; transient failures (connect errors, timeouts,
5xx/408/429) are retried with backoff, anything else fails at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from greentic.errors import FetchError
from greentic.fetch._errors import httpx_errors, status_error
from greentic.fetch._refs import dest_name, redact
from greentic.fetch._retry import with_retries
from greentic.fetch._sink import Sink
from greentic.fetch._types import CHUNK, FetchedBundle

if TYPE_CHECKING:
    import httpx


def fetch_http(
    url: str,
    dest_dir: Path,
    *,
    max_bytes: int,
    transport: httpx.BaseTransport | None,
    timeout: float,
    attempts: int,
    sleep: Callable[[float], None],
) -> FetchedBundle:
    """Download `url` into `dest_dir`; the digest is computed while streaming."""
    import httpx

    what = f"fetching {redact(url)}"
    name = dest_name(redact(url), urlsplit(url).path.rsplit("/", 1)[-1])

    def attempt() -> FetchedBundle:
        with (
            httpx.Client(transport=transport, follow_redirects=True, timeout=timeout) as client,
            httpx_errors(what, timeout=timeout),
            client.stream("GET", url, headers={"Accept-Encoding": "identity"}) as resp,
        ):
            if resp.status_code != 200:
                raise status_error(what, resp.status_code, resp.reason_phrase)
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(
                    f"{what}: the bundle is {declared} bytes, over the {max_bytes}-byte cap; "
                    "nothing downloaded"
                )
            with Sink(dest_dir, max_bytes=max_bytes, what=what) as sink:
                for chunk in resp.iter_bytes(CHUNK):
                    sink.write(chunk)
                return sink.commit(name)

    return with_retries(attempt, attempts=attempts, sleep=sleep)
