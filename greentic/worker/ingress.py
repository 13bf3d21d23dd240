"""What a generic POST means to a flow, and what its outcome means to HTTP (SPEC §5); pure.

A JSON body with a string `text` is a message; anything else is an `http.request` activity.
Identity headers/fields count only from loopback-trusted callers. SESSIONED = a trusted caller
names a session (`x-greentic-session` / body `session`), or the request is a message (the host
derives `tenant:http:default:default:<user>`, as upstream canonicalises messages). A failed
sessioned run answers 200 with the `flow_execution_failed` reply; otherwise 500.

An untrusted caller has no verifiable identity, so it is EPHEMERAL: its message gets a session
of its own (`tenant:http:anonymous:<request id>`) and its flow state lives for that one request;
two remote callers never see each other's state, and none can evict a real session's state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from greentic.worker.routing import Route

FAILURE_TEXT = "Sorry — something went wrong while handling that. Please try again."
ENDPOINT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
RESPONSE_KIND = {"kind": "custom", "action": "response"}


class Caller(NamedTuple):
    """Who asserts to be calling: user, session hint, messaging endpoint (trusted peers only);
    `ephemeral` when nothing verifies who it is (its state is not kept past the request).
    A NamedTuple, like `Activity`: immutable and ~10x cheaper per request than a frozen
    dataclass."""

    user: str | None = None
    session: str | None = None
    endpoint: str | None = None
    ephemeral: bool = False


class Activity(NamedTuple):
    """An inbound activity: `message` (with text) or `http.request` (payload = the body)."""

    kind: str
    text: str | None
    payload: Any


def _field(body: Any, key: str) -> str | None:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


def caller(headers: Mapping[str, str], body: Any, *, trusted: bool) -> Caller:
    """The identity a request asserts; ephemeral for untrusted peers."""
    if not trusted:
        return EPHEMERAL
    endpoint = headers.get("x-greentic-messaging-endpoint-id")
    return Caller(
        user=headers.get("x-greentic-user") or _field(body, "user"),
        session=headers.get("x-greentic-session") or _field(body, "session"),
        endpoint=endpoint if endpoint and ENDPOINT_RE.match(endpoint) else None,
    )


EPHEMERAL = Caller(ephemeral=True)


def activity(body: Any) -> Activity:
    """Message when the body has a string `text`, else a custom `http.request`."""
    text = body.get("text") if isinstance(body, dict) else None
    if isinstance(text, str):
        return Activity(kind="message", text=text, payload={"text": text})
    return Activity(kind="http.request", text=None, payload=body)


def session_id(act: Activity, who: Caller, route: Route, *, request_id: str) -> str | None:
    """The run's session id: the caller's hint, else derived for a message (one of its own
    per request for an ephemeral caller), else None."""
    if who.session:
        return who.session
    if act.kind != "message":
        return None
    if who.ephemeral:
        return f"{route.tenant}:http:anonymous:{request_id}"
    return f"{route.tenant}:http:default:default:{who.user or 'anonymous'}"


def pin_key(route: Route, who: Caller) -> str | None:
    """The sticky-pin key of a caller: (deployment, tenant, session hint or user), if any."""
    hint = who.session or who.user
    return f"{route.deployment_id}\0{route.tenant}\0{hint}" if hint else None


def flow_input(
    act: Activity,
    who: Caller,
    route: Route,
    *,
    env_id: str,
    session: str | None,
    message_id: str,
) -> dict[str, Any]:
    """`{"input": envelope, "tenant", "team", "text"}`: `{{in.input.text}}` and `{{entry.text}}`."""
    tenant_ctx: dict[str, Any] = {
        "env": env_id,
        "tenant": route.tenant,
        "tenant_id": route.tenant,
        "team": route.team,
        "team_id": route.team,
        "attempt": 0,
    }
    if who.user:
        tenant_ctx["user"] = tenant_ctx["user_id"] = who.user
    if session:
        tenant_ctx["session_id"] = session
    envelope: dict[str, Any] = {
        "id": message_id,
        "tenant": tenant_ctx,
        "channel": "http",
        "session_id": session,
        "from": {"id": who.user} if who.user else None,
        "text": act.text,
        "payload": act.payload,
        "metadata": {"messaging_endpoint_id": who.endpoint} if who.endpoint else {},
    }
    return {"input": envelope, "tenant": route.tenant, "team": route.team, "text": act.text}


def reply_items(output: Any) -> list[Any]:
    """A flow's output as reply items: a list item by item, a single value alone, null none."""
    if output is None:
        return []
    if isinstance(output, list):
        return [item for item in output if item is not None]
    return [output]


def replies(items: list[Any], tenant: str) -> list[dict[str, Any]]:
    """The reply list: one `{"kind":{custom,response},"tenant","payload"}` per item."""
    return [{"kind": RESPONSE_KIND, "tenant": tenant, "payload": item} for item in items]


def failure_payload(error: str, flow_id: str) -> dict[str, Any]:
    """The reply payload of a failed flow on a sessioned message (SPEC §5)."""
    return {
        "text": FAILURE_TEXT,
        "metadata": {
            "error_kind": "flow_execution_failed",
            "error_message": error,
            "flow_id": flow_id,
        },
    }
