"""`http(s)://` sources: one streamed GET (redirects followed) into a capped, hashed sink.

Each attempt starts from an empty temp file; transient failures (connect errors, timeouts,
5xx/408/429) are retried with backoff, anything else fails at once, and the whole download
(retries and backoff included) ends at the pull's overall deadline. The client's TLS trust
store is loaded at its first handshake, so a plain `http://` pull never pays for it (#16).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from greentic.fetch._deadline import Deadline
from greentic.fetch._errors import httpx_errors, status_error
from greentic.fetch._refs import dest_name, redact
from greentic.fetch._retry import with_retries
from greentic.fetch._sink import CAP_HINT, Sink
from greentic.fetch._stream import iter_decoded, open_response
from greentic.fetch._types import FetchedBundle

if TYPE_CHECKING:
    import httpx


class LazyTrust(ssl.SSLContext):
    """httpx's default verifying context, with the CA bundle loaded at the first handshake.

    Loading certifi's bundle costs ~35-50 ms, and an `http://` pull (the common in-cluster
    case) makes no handshake; a redirect to `https://` still verifies. The trust sources are
    httpx's: `$SSL_CERT_FILE`, else `$SSL_CERT_DIR`, else certifi. Fails closed: until loaded
    the context trusts nothing (`CERT_REQUIRED`, hostname checked).
    """

    loaded = False

    def load_trust(self) -> None:
        """Load the CA locations once (before this context wraps any socket)."""
        if self.loaded:
            return
        if os.environ.get("SSL_CERT_FILE"):
            self.load_verify_locations(cafile=os.environ["SSL_CERT_FILE"])
        elif os.environ.get("SSL_CERT_DIR"):
            self.load_verify_locations(capath=os.environ["SSL_CERT_DIR"])
        else:
            import certifi

            self.load_verify_locations(cafile=certifi.where())
        self.loaded = True

    def wrap_socket(self, *args: Any, **kwargs: Any) -> Any:
        self.load_trust()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> Any:
        self.load_trust()
        return super().wrap_bio(*args, **kwargs)


def lazy_trust() -> LazyTrust:
    """A verifying TLS client context (hostname checked, certificate required), trust unloaded."""
    return LazyTrust(ssl.PROTOCOL_TLS_CLIENT)


def fetch_http(
    url: str,
    dest_dir: Path,
    *,
    max_bytes: int,
    transport: httpx.BaseTransport | None,
    timeout: float,
    attempts: int,
    sleep: Callable[[float], None],
    deadline: Deadline,
) -> FetchedBundle:
    """Download `url` into `dest_dir`; the digest is computed while streaming."""
    import httpx

    what = f"fetching {redact(url)}"
    name = dest_name(redact(url), urlsplit(url).path.rsplit("/", 1)[-1])

    def attempt() -> FetchedBundle:
        with (
            httpx.Client(transport=transport, timeout=timeout, verify=lazy_trust()) as client,
            httpx_errors(what, timeout=timeout, deadline=deadline),
        ):
            resp = open_response(
                client,
                "GET",
                url,
                headers={"Accept-Encoding": "identity"},
                timeout=deadline.timeout(timeout),
                what=what,
            )
            try:
                if resp.status_code != 200:
                    raise status_error(what, resp.status_code, resp.reason_phrase)
                chunks = iter_decoded(
                    resp,
                    cap=max_bytes,
                    what=what,
                    label="bundle",
                    deadline=deadline,
                    hint=CAP_HINT,
                )
                with Sink(dest_dir, max_bytes=max_bytes, what=what) as sink:
                    for chunk in chunks:
                        sink.write(chunk)
                    return sink.commit(name)
            finally:
                resp.close()

    return with_retries(attempt, attempts=attempts, sleep=sleep, deadline=deadline)
