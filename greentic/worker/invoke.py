"""`POST /workers/invoke`: HostWorkerRequest/Response shapes (reference worker §4.5); pure.

Request `{version?, tenant{tenant_id|tenant, user_id?}, worker_id?, payload?, correlation_id?,
session_id?, thread_id?}` (unknown fields ignored); an object payload without a string `text`
becomes `{"metadata": payload}`. Reply items map to `{kind, payload}`: `renderedCard` →
`adaptive-card`, `text` → `text`, else `activity`. The body obeys the worker's JSON rules
(`body.parse_json`: UTF-8, bounded depth, no lone surrogates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from greentic.worker.body import BadJson, parse_json


class BadInvoke(ValueError):
    """Raised when the body is not a HostWorkerRequest; `str()` is the serde-like reason."""


@dataclass(frozen=True)
class InvokeRequest:
    """The fields of a HostWorkerRequest the worker uses."""

    tenant: dict[str, Any]
    version: str | None = None
    worker_id: str | None = None
    payload: Any = None
    correlation_id: str | None = None
    session_id: str | None = None
    thread_id: str | None = None

    @property
    def tenant_id(self) -> str | None:
        value = self.tenant.get("tenant_id") or self.tenant.get("tenant")
        return value if isinstance(value, str) else None

    @property
    def user_id(self) -> str | None:
        value = self.tenant.get("user_id") or self.tenant.get("user")
        return value if isinstance(value, str) and value else None


def _opt_str(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise BadInvoke(f"invalid type for `{key}`: expected a string")
    return value


def parse(body: bytes) -> InvokeRequest:
    """Validate a request body."""
    try:
        doc = parse_json(body)
    except BadJson as exc:
        raise BadInvoke(str(exc)) from None
    if not isinstance(doc, dict):
        raise BadInvoke("expected a JSON object")
    tenant = doc.get("tenant")
    if tenant is None:
        raise BadInvoke("missing field `tenant`")
    if not isinstance(tenant, dict):
        raise BadInvoke("invalid type for `tenant`: expected an object")
    return InvokeRequest(
        tenant=tenant,
        version=_opt_str(doc, "version"),
        worker_id=_opt_str(doc, "worker_id"),
        payload=doc.get("payload"),
        correlation_id=_opt_str(doc, "correlation_id"),
        session_id=_opt_str(doc, "session_id"),
        thread_id=_opt_str(doc, "thread_id"),
    )


def normalize_payload(payload: Any) -> Any:
    """Card submits (objects without a string `text`) become `{"metadata": payload}`."""
    if isinstance(payload, dict) and payload and not isinstance(payload.get("text"), str):
        return {"metadata": payload}
    return payload


def message(item: Any) -> dict[str, Any]:
    """One reply item as an invoke message."""
    if isinstance(item, dict) and item.get("status") == "pending" and "response" in item:
        item = item["response"]
    if isinstance(item, dict) and "renderedCard" in item:
        return {"kind": "adaptive-card", "payload": item["renderedCard"]}
    if isinstance(item, dict) and "text" in item:
        return {"kind": "text", "payload": item}
    return {"kind": "activity", "payload": item}


def response(
    req: InvokeRequest, *, worker_id: str, items: list[Any], timestamp_utc: str
) -> dict[str, Any]:
    """The HostWorkerResponse body."""
    return {
        "version": req.version or "1.0.0",
        "tenant": req.tenant,
        "worker_id": req.worker_id or worker_id,
        "timestamp_utc": timestamp_utc,
        "messages": [message(item) for item in items],
        "correlation_id": req.correlation_id,
        "session_id": req.session_id,
        "thread_id": req.thread_id,
    }
