"""Responses read under a cap as they stream: bounded decoding, no unread redirect bodies.

httpx would read a whole redirect body, and `resp.content`/`resp.json()` a whole answer (a
gzip one decoded in one go: 1.5 MB of gzip is 1.5 GB of JSON). Here every body is read raw,
decoded by us with `max_length`, counted as decoded bytes arrive and cut just past its cap; a
`Content-Length` over the cap is refused before any byte is read. Redirects are followed by
hand, closing each 3xx unread and dropping `Authorization` whenever the origin changes.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from greentic.errors import FetchError
from greentic.fetch._deadline import Deadline
from greentic.fetch._types import CHUNK

if TYPE_CHECKING:
    import httpx

MAX_REDIRECTS = 10
SAFE_TO_REPLAY = (307, 308)
ZLIB_FORMATS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}


class Inflater:
    """Bounded gzip/deflate decoding: never more than CHUNK bytes out per step."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._deflate = encoding == "deflate"
        self._d = zlib.decompressobj(ZLIB_FORMATS.get(encoding, zlib.MAX_WBITS))
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces of `data`, each at most CHUNK bytes, produced only as they are taken."""
        pending = data
        while True:
            out = self._step(pending)
            pending = self._d.unconsumed_tail
            if out:
                yield out
            if not pending and len(out) < CHUNK:
                return

    def _step(self, data: bytes) -> bytes:
        try:
            out = self._d.decompress(data, CHUNK)
        except zlib.error:
            if not (self._deflate and not self._started):
                raise
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
            out = self._d.decompress(data, CHUNK)
        self._started = True
        return out


def decoder(encoding: str, what: str) -> Inflater | None:
    """None for identity; an Inflater for gzip/deflate; a FetchError for anything else."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return None
    if name in ("gzip", "x-gzip", "deflate"):
        return Inflater(name)
    raise FetchError(
        f"{what}: the server sent Content-Encoding `{encoding}`, which is not supported "
        "(identity, gzip or deflate); serve the file without that encoding"
    )


def iter_decoded(
    resp: httpx.Response,
    *,
    cap: int,
    what: str,
    label: str,
    deadline: Deadline,
    hint: str | None = None,
) -> Iterator[bytes]:
    """The decoded body in pieces, cut just past `cap` decoded bytes and at the deadline."""
    declared = resp.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > cap:
        raise FetchError(
            f"{what}: the {label} is {declared} bytes, over the {cap}-byte cap; nothing downloaded",
            hint=hint,
        )
    raw_chunks, inflater = _body(resp, what)
    total = 0
    for raw in raw_chunks:
        deadline.check()
        try:
            pieces = [raw] if inflater is None else inflater.feed(raw)
            for piece in pieces:
                total += len(piece)
                if total > cap:
                    raise FetchError(
                        f"{what}: the {label} is larger than the {cap}-byte cap; "
                        "download aborted and nothing kept",
                        hint=hint,
                    )
                yield piece
        except zlib.error:
            raise FetchError(
                f"{what}: the {label} is not valid {resp.headers.get('content-encoding')} data"
            ) from None


def _body(resp: httpx.Response, what: str) -> tuple[Iterator[bytes], Inflater | None]:
    """The raw chunks and their decoder; a body already in memory (in-memory transports such
    as httpx.MockTransport read it on construction) comes decoded, in CHUNK slices."""
    import httpx

    try:
        content = resp.content
    except httpx.ResponseNotRead:
        return resp.iter_raw(), decoder(resp.headers.get("content-encoding", ""), what)
    return (content[i : i + CHUNK] for i in range(0, len(content), CHUNK)), None


def read_capped(
    resp: httpx.Response, *, cap: int, what: str, label: str, deadline: Deadline
) -> bytes:
    """The whole decoded body of a small document (manifest, token, error), at most `cap`."""
    return b"".join(iter_decoded(resp, cap=cap, what=what, label=label, deadline=deadline))


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def next_hop(
    method: str, url: httpx.URL, status: int, location: str, headers: Mapping[str, str]
) -> tuple[str, httpx.URL, dict[str, str], bool]:
    """(method, url, headers, keep body) of the request a redirect asks for (pure)."""
    target = url.join(location)
    if target.scheme not in ("http", "https"):
        raise FetchError(f"a redirect points at `{target.scheme}:`, which cannot be fetched")
    keep_body = status in SAFE_TO_REPLAY or method == "HEAD"
    new_method = method if keep_body else "GET"
    drop = {"host"} | ({"authorization"} if not _same_origin(url, target) else set())
    if not keep_body:
        drop |= {"content-length", "content-type", "transfer-encoding"}
    kept = {k: v for k, v in headers.items() if k.lower() not in drop}
    return new_method, target, kept, keep_body


def open_response(
    client: httpx.Client,
    method: str,
    url: str | httpx.URL,
    *,
    headers: Mapping[str, str],
    timeout: float,
    content: Callable[[], Any] | bytes | None = None,
    what: str,
) -> httpx.Response:
    """Send and follow redirects by hand; returns an unread streamed response to close."""
    import httpx

    target = httpx.URL(url)
    hdrs = dict(headers)
    body: Callable[[], Any] | bytes | None = content
    for _ in range(MAX_REDIRECTS + 1):
        data = body() if callable(body) else body
        request = client.build_request(method, target, headers=hdrs, content=data, timeout=timeout)
        resp = client.send(request, stream=True, follow_redirects=False)
        location = resp.headers.get("location")
        if not (resp.is_redirect and location):
            return resp
        resp.close()
        method, target, hdrs, keep = next_hop(method, target, resp.status_code, location, hdrs)
        body = body if keep else None
    raise FetchError(f"{what}: more than {MAX_REDIRECTS} redirects")
