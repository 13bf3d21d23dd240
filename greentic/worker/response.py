"""The worker's HTTP replies as ASGI callables: a body, a status and headers, sent in two messages.

The worker answers every request itself (one catch-all app), so it needs no web framework's
response classes: starlette's module imports anyio and its request, form and cookie helpers,
~10 ms of every cold boot (#16). `Response` sends what starlette's did for the replies the
worker makes (same header names, order and values: the caller's headers lowercased, then
`content-length`, then `content-type` with `; charset=utf-8` for text); `JsonResponse` builds
its two headers directly, for the hot path. Used by `greentic.worker.app`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Header = tuple[bytes, bytes]

JSON_TYPE: Header = (b"content-type", b"application/json")
NO_BODY_STATUSES = frozenset({204, 304})  # and every 1xx: no content-length is sent


def raw_headers(
    headers: Mapping[str, str] | None, body: bytes, status: int, media_type: str | None
) -> list[Header]:
    """The header list: given headers first (names lowercased), then the content length and
    type unless given; a `text/*` type without a charset gets `; charset=utf-8`."""
    out = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    names = {name for name, _ in out}
    if b"content-length" not in names and status >= 200 and status not in NO_BODY_STATUSES:
        out.append((b"content-length", b"%d" % len(body)))
    if media_type is not None and b"content-type" not in names:
        if media_type.startswith("text/") and "charset=" not in media_type.lower():
            media_type += "; charset=utf-8"
        out.append((b"content-type", media_type.encode("latin-1")))
    return out


class Response:
    """One reply. Example: `Response("ok", media_type="text/plain")`: built once, it may be
    sent any number of times (a probe's reply is one shared instance)."""

    __slots__ = ("body", "raw_headers", "status_code")

    def __init__(
        self,
        content: str | bytes = b"",
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.body = content.encode("utf-8") if isinstance(content, str) else content
        self.raw_headers = raw_headers(headers, self.body, status_code, media_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": self.body})


class JsonResponse(Response):
    """A JSON reply with its two headers built directly (no header rules run per request)."""

    __slots__ = ()

    def __init__(self, body: bytes, status_code: int = 200) -> None:
        self.status_code = status_code
        self.body = body
        self.raw_headers = [JSON_TYPE, (b"content-length", b"%d" % len(body))]
