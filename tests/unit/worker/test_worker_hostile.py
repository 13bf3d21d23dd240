"""Issue #12 through the ASGI app: rebinding/cross-site headers (3), client mistakes as 4xx
(4), no shared state for anonymous remote callers (5), and the in-flight and body-budget
limits (1). Socket-level floods and slow clients are in tests/integration/test_worker_hostile.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from greentic.worker.app import Runtime, WorkerApp
from greentic.worker.limits import Limits
from greentic.worker.listeners import Address, Listener
from greentic.worker.logs import MemoryLog

from .test_worker_app import LOOPBACK, REMOTE, STATEFUL_FLOW, call, runtime_for

INVOKE = {"tenant": {"tenant_id": "acme"}, "payload": {"text": "hi"}, "session_id": "s-1"}
REBIND = "rebind.attacker.example"


def console(port: int = 8080) -> WorkerApp:
    return WorkerApp(runtime_for(gui=True), Listener(Address("127.0.0.1", port)))


# --- 3. DNS rebinding / cross-site -------------------------------------------------------


def test_a_rebinding_page_cannot_invoke_the_worker() -> None:
    """The browser of a page on rebind.attacker.example (resolved to 127.0.0.1) sends its own
    Host and Origin, and text/plain to skip a CORS preflight: refused on each count."""
    app = console()
    hostile = {"host": REBIND, "origin": f"http://{REBIND}", "content-type": "text/plain"}
    r = call(app, "POST", "/workers/invoke", json=INVOKE, headers=hostile)
    assert (r.status_code, r.text) == (403, "worker invoke is restricted to loopback callers")
    for one in ({"host": REBIND}, {"origin": f"http://{REBIND}"}):
        r = call(app, "POST", "/workers/invoke", json=INVOKE, headers=one)
        assert r.status_code == 403, one
    r = call(app, "POST", "/workers/invoke", json=INVOKE, headers={"content-type": "text/plain"})
    assert (r.status_code, r.text) == (415, "worker invoke takes an application/json body")


@pytest.mark.parametrize("host", [REBIND, f"{REBIND}:8080", "127.0.0.1.nip.io", "localhost.evil"])
def test_chat_with_a_foreign_host_is_not_the_console(host: str) -> None:
    r = call(console(), "GET", "/chat", headers={"host": host})
    assert r.status_code == 405 and "<html" not in r.text.lower()


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("localhost:18080", None),  # kubectl port-forward 18080:8080
        ("127.0.0.1:9999", None),
        ("[::1]:8080", None),
        ("localhost", None),
        ("localhost:18080", "http://localhost:18080"),  # the console page's own fetch
        ("127.0.0.1:9999", "http://127.0.0.1:9999"),
        ("[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_the_console_works_through_a_port_forward(host: str, origin: str | None) -> None:
    headers = {"host": host, **({"origin": origin} if origin else {})}
    app = console()
    assert call(app, "GET", "/chat", headers=headers).status_code == 200
    r = call(app, "POST", "/workers/invoke", json=INVOKE, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["messages"][0]["payload"] == {"text": "echo: hi"}


@pytest.mark.parametrize(
    "origin", [f"http://{REBIND}", "http://localhost:1", "null", "file://", "http://127.0.0.1"]
)
def test_a_foreign_or_other_port_origin_is_refused(origin: str) -> None:
    headers = {"host": "localhost:18080", "origin": origin}
    r = call(console(), "POST", "/workers/invoke", json=INVOKE, headers=headers)
    assert r.status_code == 403


# --- 4. client mistakes are 4xx ----------------------------------------------------------


def stateful(listen: str = "0.0.0.0") -> WorkerApp:
    return WorkerApp(runtime_for({"main": STATEFUL_FLOW}), Listener(Address(listen, 8080)))


def test_a_lone_surrogate_is_a_400_before_the_flow_runs() -> None:
    """Before: the flow ran, stored the text, and encoding the reply crashed (500); the next
    caller of that session got a 500 too."""
    app = stateful("127.0.0.1")
    user = {"x-greentic-user": "ann"}
    for raw in (b'{"text":"\\ud800"}', b'{"text":"\xed\xa0\x80"}'):
        r = call(app, "POST", "/", content=raw, headers=user)
        assert r.status_code == 400, r.text
        assert "surrogate" in r.text or "UTF-8" in r.text
    r = call(app, "POST", "/", json={"text": "next"}, headers=user)
    assert (r.status_code, r.json()[0]["payload"]["text"]) == (200, "before=0")  # nothing kept
    invoke = b'{"tenant":{"tenant_id":"acme"},"payload":{"text":"\\udc00"}}'
    r = call(app, "POST", "/workers/invoke", content=invoke, headers={"content-type": "a/b"})
    assert r.status_code == 415
    r = call(
        app,
        "POST",
        "/workers/invoke",
        content=invoke,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400 and "surrogate" in r.text


@pytest.mark.parametrize("depth", [65, 900, 1000, 5000])
def test_deep_json_is_a_400(depth: int) -> None:
    for raw in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        r = call(stateful(), "POST", "/", content=raw, client=REMOTE)
        assert (r.status_code, r.text) == (400, "request body JSON is nested deeper than 64 levels")


def test_a_bug_is_a_logged_500_not_an_exception() -> None:
    app = stateful()

    def broken(*_a: Any, **_k: Any) -> Any:
        raise KeyError("boom")

    app.dispatch = broken  # type: ignore[method-assign]
    r = call(app, "POST", "/", json={"text": "x"}, client=REMOTE)
    assert (r.status_code, r.text) == (500, "internal error (logged by the worker)")
    log = app.runtime.log
    assert isinstance(log, MemoryLog)
    assert any("KeyError: 'boom'" in msg and "POST /" in msg for _, msg in log.lines)
    assert app.runtime.in_flight.used == 0 and app.runtime.bodies.used == 0


# --- 5. anonymous remote callers share no state ------------------------------------------


def test_anonymous_remote_callers_share_no_state() -> None:
    """Before: every remote caller without identity had session `…:anonymous`: the second
    caller saw the first one's message (`before=secret`)."""
    app = stateful()
    first = call(app, "POST", "/", json={"text": "secret"}, client=REMOTE)
    second = call(app, "POST", "/", json={"text": "hello"}, client=("10.9.8.7", 1))
    again = call(app, "POST", "/", json={"text": "hello"}, client=REMOTE)
    for r in (first, second, again):
        assert r.json()[0]["payload"]["text"] == "before=0"
    assert len(app.runtime.states) == 0  # nothing kept, nothing evicted for them


def test_ephemeral_sessions_are_per_request_and_trusted_identities_still_keep_state() -> None:
    app = stateful()
    seen: list[Any] = []
    original = app.execute

    def spy(run: Any) -> Any:
        seen.append(run.entry["input"]["session_id"])
        return original(run)

    app.execute = spy  # type: ignore[method-assign]
    call(app, "POST", "/", json={"text": "a"}, client=REMOTE)
    call(app, "POST", "/", json={"text": "b"}, client=REMOTE)
    assert seen[0] != seen[1] and all(s.startswith("acme:http:anonymous:") for s in seen)
    # a loopback (trusted) caller's identity is kept, as before
    local = stateful("127.0.0.1")
    headers = {"x-greentic-user": "ann"}
    call(local, "POST", "/", json={"text": "1"}, headers=headers, client=LOOPBACK)
    r = call(local, "POST", "/", json={"text": "2"}, headers=headers, client=LOOPBACK)
    assert r.json()[0]["payload"]["text"] == "before=1"


# --- 1. in-flight and body-budget limits -------------------------------------------------


def limited(**kw: Any) -> WorkerApp:
    runtime = runtime_for()
    runtime = Runtime(
        env_id="local",
        activation=runtime.activation,
        log=MemoryLog(),
        limits=Limits(**kw),
    )
    return WorkerApp(runtime, Listener(Address("0.0.0.0", 8080)))


def test_requests_over_the_body_budget_get_503_with_retry_after() -> None:
    app = limited(body_budget_mib=1, retry_after_s=7)
    app.runtime.bodies.take(1024 * 1024 - 100)  # other requests hold almost all of it
    r = call(app, "POST", "/", json={"text": "x" * 200}, client=REMOTE)
    assert (r.status_code, r.headers["retry-after"]) == (503, "7")
    assert r.text == "the worker is holding its budget of request bodies; retry shortly"
    assert r.headers["connection"] == "close"
    assert call(app, "POST", "/", json={"text": "x"}, client=REMOTE).status_code == 200
    assert app.runtime.bodies.used == 1024 * 1024 - 100  # every request gave its bytes back


def test_chunked_bodies_are_claimed_as_they_arrive() -> None:
    app = limited(body_budget_mib=1)
    app.runtime.bodies.take(1024 * 1024 - 100)

    async def chunks() -> Any:
        yield b'{"text":"'
        yield b"x" * 200
        yield b'"}'

    r = call(app, "POST", "/", content=chunks(), client=REMOTE)
    assert r.status_code == 503


def test_requests_past_the_in_flight_limit_get_503_and_probes_still_answer() -> None:
    app = limited(max_in_flight=2)
    app.runtime.in_flight.take(2)
    r = call(app, "POST", "/", json={"text": "x"}, client=REMOTE)
    assert (r.status_code, r.headers["retry-after"]) == (503, "1")
    assert "in flight" in r.text
    assert call(app, "GET", "/healthz", client=REMOTE).text == "ok"
    app.runtime.in_flight.give(1)
    assert call(app, "POST", "/", json={"text": "x"}, client=REMOTE).status_code == 200


def test_a_held_body_counts_against_both_limits_until_its_response() -> None:
    app = limited(max_in_flight=5, body_budget_mib=1)
    runtime = app.runtime
    during: list[tuple[int, int]] = []

    async def go() -> None:
        gate = asyncio.Event()

        async def slow_body() -> Any:
            yield b'{"text":'
            await gate.wait()
            during.append((runtime.in_flight.used, runtime.bodies.used))
            yield b'"x"}'

        transport = httpx.ASGITransport(app=app, client=REMOTE)
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as c:
            task = asyncio.create_task(c.post("/", content=slow_body()))
            await asyncio.sleep(0.05)
            gate.set()
            assert (await task).status_code == 200

    asyncio.run(go())
    assert during == [(1, 8)]
    assert (runtime.in_flight.used, runtime.bodies.used) == (0, 0)
