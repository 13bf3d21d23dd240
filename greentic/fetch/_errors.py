"""The one place where httpx exceptions become FetchErrors (like httpx's map_exceptions).

Transient failures (connect errors, timeouts, dropped connections) become
`TransientFetchError` so the retry loop can tell them apart; TLS failures are permanent.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from greentic.errors import FetchError
from greentic.fetch._deadline import Deadline
from greentic.fetch._types import TransientFetchError


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "SSL" in str(seen) or "TLS" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextmanager
def httpx_errors(
    what: str, *, timeout: float, hint: str = "", deadline: Deadline | None = None
) -> Iterator[None]:
    """Translate any httpx exception raised in the block; `hint` is appended to network errors.

    A timeout once the overall `deadline` has passed is the deadline's error (not retried).
    """
    import httpx

    try:
        yield
    except httpx.TimeoutException as exc:
        if deadline is not None and deadline.expired():
            raise deadline.error() from None
        raise TransientFetchError(
            f"{what}: timed out after {timeout:g}s ({type(exc).__name__}){hint}"
        ) from None
    except httpx.ConnectError as exc:
        if _is_tls(exc):
            raise FetchError(f"{what}: TLS handshake failed ({exc}){hint}") from None
        raise TransientFetchError(f"{what}: cannot connect ({exc}){hint}") from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        if _is_tls(exc):
            raise FetchError(f"{what}: TLS failure ({exc}){hint}") from None
        raise TransientFetchError(f"{what}: connection dropped ({exc}){hint}") from None
    except httpx.TooManyRedirects:
        raise FetchError(f"{what}: too many redirects") from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise FetchError(f"{what}: invalid URL ({exc})") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{what}: {type(exc).__name__}: {exc}{hint}") from None


def status_error(what: str, status: int, reason: str, *, hint: str = "") -> FetchError:
    """The FetchError for a non-success answer; 5xx, 408 and 429 are retryable."""
    message = f"{what}: server answered {status} {reason}".rstrip() + hint
    if status >= 500 or status in (408, 429):
        return TransientFetchError(message)
    return FetchError(message)
