"""Activities, identity, sessions, flow input and reply shapes (SPEC §5)."""

from __future__ import annotations

from greentic.worker import ingress, invoke
from greentic.worker.routing import Route

ROUTE = Route("DEP", "bot", "acme", "team-a")


def test_text_body_is_a_message_anything_else_a_custom_activity() -> None:
    assert ingress.activity({"text": "hi", "x": 1}) == ingress.Activity(
        "message", "hi", {"text": "hi"}
    )
    assert ingress.activity({"text": 5}).kind == "http.request"
    assert ingress.activity(None) == ingress.Activity("http.request", None, None)
    assert ingress.activity([1]).payload == [1]


def test_identity_only_from_trusted_callers() -> None:
    headers = {"x-greentic-user": "u1", "x-greentic-messaging-endpoint-id": "ep-1"}
    body = {"session": "s1", "user": "ignored"}
    assert ingress.caller(headers, body, trusted=True) == ingress.Caller("u1", "s1", "ep-1")
    assert ingress.caller(headers, body, trusted=False) == ingress.Caller(ephemeral=True)
    bad_ep = {"x-greentic-messaging-endpoint-id": "no spaces allowed"}
    assert ingress.caller(bad_ep, {"user": "u2"}, trusted=True) == ingress.Caller("u2")


def test_sessioned_rules() -> None:
    msg, custom = ingress.activity({"text": "hi"}), ingress.activity({})

    def session(act: ingress.Activity, who: ingress.Caller, request: str = "r1") -> str | None:
        return ingress.session_id(act, who, ROUTE, request_id=request)

    assert session(custom, ingress.Caller()) is None
    assert session(custom, ingress.Caller(session="s")) == "s"
    assert session(msg, ingress.Caller()) == "acme:http:default:default:anonymous"
    assert session(msg, ingress.Caller(user="u")) == "acme:http:default:default:u"
    # an ephemeral (untrusted) caller: a session of its own per request, never a shared one
    assert session(msg, ingress.EPHEMERAL, "r1") == "acme:http:anonymous:r1"
    assert session(msg, ingress.EPHEMERAL, "r2") == "acme:http:anonymous:r2"
    assert session(custom, ingress.EPHEMERAL) is None


def test_pin_key_needs_an_explicit_identity() -> None:
    assert ingress.pin_key(ROUTE, ingress.Caller()) is None
    assert ingress.pin_key(ROUTE, ingress.Caller(user="u")) == "DEP\0acme\0u"
    assert ingress.pin_key(ROUTE, ingress.Caller(user="u", session="s")) == "DEP\0acme\0s"


def test_flow_input_exposes_text_both_ways() -> None:
    act = ingress.activity({"text": "hi"})
    entry = ingress.flow_input(
        act, ingress.Caller(user="u"), ROUTE, env_id="local", session="S", message_id="m1"
    )
    assert entry["text"] == "hi"
    assert entry["input"]["text"] == "hi"
    assert (entry["tenant"], entry["team"]) == ("acme", "team-a")
    ctx = entry["input"]["tenant"]
    assert ctx["env"] == "local"
    assert (ctx["tenant_id"], ctx["user_id"], ctx["session_id"]) == ("acme", "u", "S")
    assert entry["input"]["id"] == "m1"


def test_replies_shape() -> None:
    items = ingress.reply_items([{"text": "a"}, None, "b"])
    assert items == [{"text": "a"}, "b"]
    assert ingress.reply_items(None) == []
    assert ingress.reply_items({"text": "x"}) == [{"text": "x"}]
    assert ingress.replies(items, "acme")[0] == {
        "kind": {"kind": "custom", "action": "response"},
        "tenant": "acme",
        "payload": {"text": "a"},
    }


def test_failure_payload_is_spec_exact() -> None:
    assert ingress.failure_payload("flow main has no start node", "main") == {
        "text": "Sorry — something went wrong while handling that. Please try again.",
        "metadata": {
            "error_kind": "flow_execution_failed",
            "error_message": "flow main has no start node",
            "flow_id": "main",
        },
    }


def test_invoke_parse_and_errors() -> None:
    req = invoke.parse(b'{"tenant":{"tenant_id":"acme","user_id":"u"},"session_id":"s","x":1}')
    assert (req.tenant_id, req.user_id, req.session_id) == ("acme", "u", "s")
    for body, reason in [
        (b"", "expected a JSON object"),
        (b"{", "request body must be JSON"),
        (b"{}", "missing field `tenant`"),
        (b'{"tenant":"acme"}', "invalid type for `tenant`"),
        (b'{"tenant":{},"session_id":3}', "invalid type for `session_id`"),
    ]:
        try:
            invoke.parse(body)
        except invoke.BadInvoke as exc:
            assert reason in str(exc)
        else:
            raise AssertionError(f"{body!r} parsed")


def test_invoke_payload_normalisation_and_messages() -> None:
    assert invoke.normalize_payload({"action": "ok"}) == {"metadata": {"action": "ok"}}
    assert invoke.normalize_payload({"text": "hi"}) == {"text": "hi"}
    assert invoke.normalize_payload({}) == {}
    assert invoke.message({"renderedCard": {"c": 1}}) == {
        "kind": "adaptive-card",
        "payload": {"c": 1},
    }
    assert invoke.message({"status": "pending", "response": {"text": "t"}})["kind"] == "text"
    assert invoke.message([1]) == {"kind": "activity", "payload": [1]}


def test_invoke_response_echoes_ids() -> None:
    req = invoke.parse(b'{"tenant":{"tenant_id":"a"},"correlation_id":"c","thread_id":"t"}')
    doc = invoke.response(req, worker_id="bot", items=[{"text": "x"}], timestamp_utc="T")
    assert doc == {
        "version": "1.0.0",
        "tenant": {"tenant_id": "a"},
        "worker_id": "bot",
        "timestamp_utc": "T",
        "messages": [{"kind": "text", "payload": {"text": "x"}}],
        "correlation_id": "c",
        "session_id": None,
        "thread_id": "t",
    }
