"""The HTTP surface through httpx.ASGITransport (no socket): probes, routing, replies, trust."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from greentic.spec.runtime_config import project
from greentic.worker import activation
from greentic.worker.app import MAX_BODY_BYTES, Runtime, WorkerApp
from greentic.worker.listeners import Address, Listener
from greentic.worker.logs import MemoryLog

from .envs import ECHO_FLOW, EMPTY_FLOW, EnvBuilder, FakePack

LOOPBACK = ("127.0.0.1", 123)
REMOTE = ("10.1.2.3", 4567)
STATEFUL_FLOW = """
id: main
nodes:
  get: {state.get: {key: n, default: 0}, routing: [{to: put}]}
  put: {state.set: {key: n, value: "{{entry.text}}"}, routing: [{to: say}]}
  say: {emit.response: {text: "before={{node.get}}"}}
"""


def runtime_for(
    flows: dict[str, str] | None = None,
    *,
    gui: bool | None = None,
    weights: tuple[int, ...] = (10000,),
) -> Runtime:
    b = EnvBuilder(gui_enabled=gui)
    bot = b.deployment("bot", tenant="acme")
    revs = [b.revision(bot, w) for w in weights]
    api = b.deployment("api", prefixes=("/api",), hosts=("api.example.com",), tenant="apis")
    api_rev = b.revision(api)
    env = b.build()
    pack = FakePack.of("p", **(flows or {"main": ECHO_FLOW}))
    packs = {r: [pack] for r in (*revs, api_rev)}
    active = activation.activate(env, project(env), packs)
    return Runtime(
        env_id="local",
        activation=active,
        gui_enabled=gui if gui is not None else True,
        listen_addr="127.0.0.1:8080",
        log=MemoryLog(),
    )


def call(
    app: WorkerApp,
    method: str,
    path: str,
    *,
    client: tuple[str, int] = LOOPBACK,
    **kw: Any,
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as c:
            return await c.request(method, path, **kw)

    return asyncio.run(go())


@pytest.fixture
def app() -> Iterator[WorkerApp]:
    yield WorkerApp(runtime_for(), Listener(Address("127.0.0.1", 8080)))


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz", "/health"])
@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_probes_answer_ok_on_any_method(app: WorkerApp, path: str, method: str) -> None:
    r = call(app, method, path, client=REMOTE)
    assert r.status_code == 200
    if method != "HEAD":
        assert r.text == "ok"
    assert r.headers["content-type"].startswith("text/plain")


def test_status_document(app: WorkerApp) -> None:
    r = call(app, "GET", "/status")
    assert r.headers["content-type"] == "application/json"
    assert list(r.json().items()) == [
        ("schema", "greentic.status.v1"),
        ("env_id", "local"),
        ("listen_addr", "127.0.0.1:8080"),
        ("bundles_active", 2),
        ("deployments_routed", 2),
        ("revisions_active", 2),
    ]


def test_post_runs_the_flow_and_replies(app: WorkerApp) -> None:
    r = call(app, "POST", "/", json={"text": "hi"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == [
        {
            "kind": {"kind": "custom", "action": "response"},
            "tenant": "acme",
            "payload": {"text": "echo: hi"},
        }
    ]


def test_host_and_prefix_pick_the_deployment(app: WorkerApp) -> None:
    r = call(app, "POST", "/api/x", json={"text": "q"}, headers={"host": "api.example.com:80"})
    assert r.json()[0]["tenant"] == "apis"
    r = call(app, "POST", "/api/x", json={"text": "q"}, headers={"host": "other"})
    assert r.json()[0]["tenant"] == "acme"  # falls to the `/` deployment that takes any host


def test_no_route_is_404_with_the_spec_text() -> None:
    empty = Runtime(env_id="local", activation=activation.Activation("local"))
    app = WorkerApp(empty, Listener(Address("127.0.0.1", 8080)))
    r = call(app, "POST", "/anything", json={})
    assert (r.status_code, r.text) == (404, "no deployment is bound to this host and path")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert call(app, "GET", "/healthz").text == "ok"


def test_non_post_on_a_routed_path_is_405(app: WorkerApp) -> None:
    r = call(app, "GET", "/some/page")
    assert (r.status_code, r.text) == (
        405,
        "only POST is supported for the generic revision ingress",
    )


def test_body_over_one_mib_is_413(app: WorkerApp) -> None:
    big = b'{"text":"' + b"x" * MAX_BODY_BYTES + b'"}'
    r = call(app, "POST", "/", content=big)
    assert (r.status_code, r.text) == (413, "request body exceeds the size limit")
    just_fits = b'"' + b"x" * (MAX_BODY_BYTES - 2) + b'"'
    assert call(app, "POST", "/", content=just_fits).status_code == 200


def test_body_must_be_json(app: WorkerApp) -> None:
    r = call(app, "POST", "/", content=b"not json")
    assert (r.status_code, r.text) == (400, "request body must be JSON")


def test_failed_flow_sessioned_is_200_with_the_failure_reply() -> None:
    app = WorkerApp(runtime_for({"main": EMPTY_FLOW}), Listener(Address("127.0.0.1", 8080)))
    r = call(app, "POST", "/", json={"text": "hi"})
    assert r.status_code == 200
    [reply] = r.json()
    assert reply["kind"] == {"kind": "custom", "action": "response"}
    assert reply["payload"] == {
        "text": "Sorry — something went wrong while handling that. Please try again.",
        "metadata": {
            "error_kind": "flow_execution_failed",
            "error_message": "flow main has no start node",
            "flow_id": "main",
        },
    }
    log = app.runtime.log
    assert isinstance(log, MemoryLog)
    assert any("flow main has no start node" in msg for _, msg in log.lines)


def test_failed_flow_unsessioned_is_500() -> None:
    app = WorkerApp(runtime_for({"main": EMPTY_FLOW}), Listener(Address("127.0.0.1", 8080)))
    for kw in ({"json": {"n": 1}}, {"content": b""}):
        r = call(app, "POST", "/", **kw)  # type: ignore[arg-type]
        assert (r.status_code, r.text) == (500, "flow execution failed")
    r = call(app, "POST", "/", json={}, headers={"x-greentic-session": "s1"})
    assert r.status_code == 200  # a trusted caller's session makes it sessioned


def test_remote_peers_cannot_assert_a_session() -> None:
    app = WorkerApp(runtime_for({"main": EMPTY_FLOW}), Listener(Address("0.0.0.0", 8080)))
    r = call(app, "POST", "/", json={"session": "s1"}, client=REMOTE)
    assert r.status_code == 500


def test_state_is_kept_per_session() -> None:
    app = WorkerApp(runtime_for({"main": STATEFUL_FLOW}), Listener(Address("127.0.0.1", 8080)))

    def say(text: str, user: str) -> str:
        r = call(app, "POST", "/", json={"text": text}, headers={"x-greentic-user": user})
        return str(r.json()[0]["payload"]["text"])

    assert say("1", "ann") == "before=0"
    assert say("2", "ann") == "before=1"
    assert say("9", "bob") == "before=0"


def test_a_user_is_pinned_to_one_revision() -> None:
    flows = {"main": "id: main\nnodes:\n  a: {emit.response: {text: x}}\n"}
    runtime = runtime_for(flows, weights=(5000, 5000))
    draws: list[int] = []

    def rand_below(n: int) -> int:
        draws.append(n)
        return 0

    runtime.rand_below = rand_below
    app = WorkerApp(runtime, Listener(Address("127.0.0.1", 8080)))
    for _ in range(3):
        assert call(
            app, "POST", "/", json={"text": "x"}, headers={"x-greentic-user": "u"}
        ).is_success
    assert draws == []
    call(app, "POST", "/", json={"text": "x"})
    assert draws == [10000]


def test_chat_page_for_trusted_loopback_only() -> None:
    app = WorkerApp(runtime_for(gui=True), Listener(Address("127.0.0.1", 8080)))
    r = call(app, "GET", "/chat")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert "/workers/invoke" in r.text
    assert "<script src" not in r.text  # no external assets
    r = call(app, "POST", "/chat")
    assert (r.status_code, r.text) == (405, "the webchat console is served over GET")
    # remote peers fall through to routing: GET under a `/` binding is the generic 405
    r = call(app, "GET", "/chat", client=REMOTE)
    assert (r.status_code, r.text) == (
        405,
        "only POST is supported for the generic revision ingress",
    )


def test_chat_off_or_untrusted_listener_falls_through() -> None:
    off = WorkerApp(runtime_for(gui=False), Listener(Address("127.0.0.1", 8080)))
    assert call(off, "GET", "/chat").status_code == 405
    public = WorkerApp(
        runtime_for(gui=True), Listener(Address("0.0.0.0", 8080), trusted_console=False)
    )
    r = call(public, "GET", "/chat")
    assert r.text == "only POST is supported for the generic revision ingress"


INVOKE = {
    "tenant": {"env": "local", "tenant": "acme", "tenant_id": "acme", "attempt": 0},
    "payload": {"text": "hello"},
    "session_id": "s-1",
    "correlation_id": "c-1",
}


def test_workers_invoke_runs_the_flow(app: WorkerApp) -> None:
    r = call(app, "POST", "/workers/invoke", json=INVOKE)
    assert r.status_code == 200
    doc = r.json()
    assert doc["messages"] == [{"kind": "text", "payload": {"text": "echo: hello"}}]
    assert (doc["session_id"], doc["correlation_id"], doc["version"]) == ("s-1", "c-1", "1.0.0")
    assert doc["tenant"] == INVOKE["tenant"]
    assert doc["timestamp_utc"].endswith("Z")


def test_workers_invoke_refusals(app: WorkerApp) -> None:
    r = call(app, "GET", "/workers/invoke")
    assert (r.status_code, r.text) == (405, "worker invoke requires POST")
    r = call(app, "POST", "/workers/invoke", json=INVOKE, client=REMOTE)
    assert (r.status_code, r.text) == (403, "worker invoke is restricted to loopback callers")
    public = WorkerApp(app.runtime, Listener(Address("0.0.0.0", 8080), trusted_console=False))
    assert call(public, "POST", "/workers/invoke", json=INVOKE).status_code == 403
    r = call(app, "POST", "/workers/invoke", json={"payload": {}})
    assert (r.status_code, r.text) == (
        400,
        "invalid HostWorkerRequest body: missing field `tenant`",
    )
    r = call(app, "POST", "/workers/invoke", json={**INVOKE, "tenant": {"tenant_id": "nobody"}})
    assert (r.status_code, r.text) == (
        404,
        "no active deployment resolves for the requested tenant",
    )


def test_workers_invoke_failure_with_session_is_a_text_message() -> None:
    app = WorkerApp(runtime_for({"main": EMPTY_FLOW}), Listener(Address("127.0.0.1", 8080)))
    r = call(app, "POST", "/workers/invoke", json=INVOKE)
    [message] = r.json()["messages"]
    assert message["kind"] == "text"
    assert message["payload"]["metadata"]["error_message"] == "flow main has no start node"
    no_session = {**INVOKE, "session_id": None, "payload": {"action": "card"}}
    r = call(app, "POST", "/workers/invoke", json=no_session)
    assert (r.status_code, r.text) == (500, "flow execution failed")


def test_emit_log_items_go_to_the_system_log() -> None:
    flows = {"main": "id: main\nnodes:\n  a: {emit.log: 'saw {{entry.text}}'}\n"}
    runtime = runtime_for(flows)
    app = WorkerApp(runtime, Listener(Address("127.0.0.1", 8080)))
    r = call(app, "POST", "/", json={"text": "hi"})
    assert r.json() == []
    assert isinstance(runtime.log, MemoryLog)
    assert any(msg.endswith(": saw hi") for _, msg in runtime.log.lines)


def test_reply_json_is_utf8(app: WorkerApp) -> None:
    r = call(app, "POST", "/", content=json.dumps({"text": "héllo ✓"}).encode())
    assert "héllo ✓".encode() in r.content


def test_asserted_messaging_endpoint_must_exist_and_be_linked() -> None:
    runtime = runtime_for()
    runtime.activation = replace(
        runtime.activation, endpoints={"ep-bot": frozenset({"bot"}), "ep-other": frozenset()}
    )
    app = WorkerApp(runtime, Listener(Address("127.0.0.1", 8080)))

    def post(endpoint: str, client: tuple[str, int] = LOOPBACK) -> httpx.Response:
        headers = {"x-greentic-messaging-endpoint-id": endpoint}
        return call(app, "POST", "/", json={"text": "hi"}, headers=headers, client=client)

    assert post("ep-bot").status_code == 200
    r = post("ep-nope")
    assert (r.status_code, r.text) == (401, "messaging endpoint not recognized in this environment")
    r = post("ep-other")
    assert (r.status_code, r.text) == (
        403,
        "this messaging endpoint is not authorized to route to the resolved bundle",
    )
    assert post("ep-nope", client=REMOTE).status_code == 200  # untrusted: the header is ignored
