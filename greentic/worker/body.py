"""Request bodies under the worker's limits: the 1 MiB cap, the shared body budget, and JSON
a client can only get wrong with a 4xx (SPEC §7).

A body's bytes are claimed from the process-wide `Gauge` before they are buffered (the whole
Content-Length up front, chunk by chunk otherwise) and given back when the response is out,
so a flood of near-cap bodies gets 503s instead of growing the heap. JSON must be UTF-8,
nested at most MAX_JSON_DEPTH deep and free of lone surrogates (which would decode fine and
then crash the reply's encoding after the flow already ran). Used by `greentic.worker.app`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from greentic.worker.limits import Gauge

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 64
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")  # a \ud800-\udfff escape, maybe lone
NOT_JSON = "request body must be JSON"
NOT_UTF8 = "request body must be JSON encoded as UTF-8"
TOO_DEEP = f"request body JSON is nested deeper than {MAX_JSON_DEPTH} levels"
LONE_SURROGATE = (
    "request body JSON has a lone surrogate escape (\\ud800-\\udfff): not valid Unicode"
)


class BodyTooLarge(Exception):
    """Raised while reading a body that goes over MAX_BODY_BYTES."""


class BudgetExhausted(Exception):
    """Raised when the bodies already held use up the body budget (503, retry later)."""


class ClientGone(Exception):
    """Raised when the client disconnects before its body was read."""


class BadJson(ValueError):
    """Raised when a body is not acceptable JSON; `str()` says why, for the 400 body."""


class BodyReader:
    """Reads one request's body against the shared budget; `release()` gives the bytes back.

    Example: `reader = BodyReader(receive, budget)`, `await reader.read("12")`, finally
    `reader.release()`."""

    __slots__ = ("budget", "held", "receive")

    def __init__(self, receive: Receive, budget: Gauge) -> None:
        self.receive = receive
        self.budget = budget
        self.held = 0

    def _claim(self, amount: int) -> None:
        if not self.budget.take(amount):
            raise BudgetExhausted
        self.held += amount

    async def read(self, declared: str | None) -> bytes:
        """The whole body, refusing more than MAX_BODY_BYTES (declared or actually sent)."""
        expected = int(declared) if declared is not None and declared.isdigit() else None
        if expected is not None:
            if expected > MAX_BODY_BYTES:
                raise BodyTooLarge
            self._claim(expected)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BodyTooLarge
            if size > self.held:  # a chunked body, or more than declared: claim the rest
                self._claim(size - self.held)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def release(self) -> None:
        if self.held:
            self.budget.give(self.held)
            self.held = 0


def _too_deep(doc: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether containers nest deeper than `limit` (iterative: no recursion on hostile input)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def _has_lone_surrogate(doc: Any) -> bool:
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def parse_json(body: bytes) -> Any:
    """An empty body is null; anything else must be UTF-8 JSON without lone surrogates and
    nested at most MAX_JSON_DEPTH deep (BadJson otherwise: a client's mistake, never a 500)."""
    if not body.strip():
        return None
    try:
        doc = json.loads(body.decode("utf-8"))  # strict: encoded surrogates are refused here
    except UnicodeDecodeError:
        raise BadJson(NOT_UTF8) from None
    except RecursionError:
        raise BadJson(TOO_DEEP) from None
    except ValueError:
        raise BadJson(NOT_JSON) from None
    # Cheap gates first (the hot path is a short body): nesting needs that many brackets, a
    # lone surrogate needs a `\u` escape.
    long_enough = len(body) > 2 * MAX_JSON_DEPTH
    if long_enough and body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and _too_deep(doc):
        raise BadJson(TOO_DEEP)
    if b"\\u" in body and _MAYBE_SURROGATE.search(body) and _has_lone_surrogate(doc):
        raise BadJson(LONE_SURROGATE)
    return doc
