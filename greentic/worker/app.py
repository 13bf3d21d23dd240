"""The worker's HTTP surface: one ASGI app per listener (SPEC §7, reference worker §4.2).

Size: one request pipeline in one place (the order below is the contract), ~480 lines.

Order: probes (any method, before any limit); the in-flight cap (503); `/status`; `/chat`
(trusted loopback GET, else falls through); `/workers/invoke` (trusted loopback POST, JSON);
`POST /webhook/telegram` (secret-token gate, then the flow, reply via sendMessage); route
binding (404), 1 MiB cap (413), body budget (503), asserted messaging endpoint (401/403), POST
only (405), JSON (400), revision pick, flow run. Trusted = a console listener, a loopback
peer, a loopback Host and no foreign Origin (SPEC §7). Remote callers without a verifiable
identity get a one-request session whose state is not kept. One catch-all coroutine answering
plain ASGI replies (`greentic.worker.response`) keeps the per-request cost near bare uvicorn
and starlette out of the boot; a bug is a logged 500,
never a traceback on stderr. Built by `process`; tested through `httpx.ASGITransport`; limits
in `greentic.worker.limits`, body rules in `greentic.worker.body`.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import random
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from greentic.errors import GreenticError
from greentic.flow import engine
from greentic.spec import schemas
from greentic.spec.environment import MessagingEndpoint
from greentic.worker import ingress, invoke, routing, telegram
from greentic.worker.activation import Activation, ActiveRevision
from greentic.worker.body import (
    MAX_BODY_BYTES,
    BadJson,
    BodyReader,
    BodyTooLarge,
    BudgetExhausted,
    ClientGone,
    parse_json,
)
from greentic.worker.limits import Gauge, Limits, from_os_environ
from greentic.worker.listeners import Listener, is_loopback, loopback_request
from greentic.worker.logs import LogSink, NullLog, timestamp
from greentic.worker.response import JsonResponse, Response
from greentic.worker.state import StateStore
from greentic.worker.telegram import TelegramSide

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

__all__ = ["MAX_BODY_BYTES", "Runtime", "WorkerApp"]

PROBES = frozenset({"/livez", "/readyz", "/healthz", "/health"})
WANTED_HEADERS = frozenset(
    {
        b"host",
        b"content-length",
        b"x-greentic-user",
        b"x-greentic-session",
        b"x-greentic-messaging-endpoint-id",
        b"x-telegram-bot-api-secret-token",
        b"origin",
        b"content-type",
    }
)
CONSOLE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Cache-Control": "no-store",
}

NOT_BOUND = "no deployment is bound to this host and path"
TOO_LARGE = "request body exceeds the size limit"
POST_ONLY = "only POST is supported for the generic revision ingress"
CONSOLE_GET_ONLY = "the webchat console is served over GET"
INVOKE_POST_ONLY = "worker invoke requires POST"
INVOKE_LOOPBACK_ONLY = "worker invoke is restricted to loopback callers"
INVOKE_JSON_ONLY = "worker invoke takes an application/json body"
INVOKE_NO_DEPLOYMENT = "no active deployment resolves for the requested tenant"
ENDPOINT_UNKNOWN = "messaging endpoint not recognized in this environment"
ENDPOINT_NOT_LINKED = "this messaging endpoint is not authorized to route to the resolved bundle"
BUSY = "the worker is at its limit of requests in flight; retry shortly"
BODIES_FULL = "the worker is holding its budget of request bodies; retry shortly"
INTERNAL = "internal error (logged by the worker)"
DISPATCH_FAILED = "revision dispatch failed"
FLOW_FAILED = "flow execution failed"


@dataclass
class Runtime:
    """What every listener's app shares: the active table, state, log and `/status` facts."""

    env_id: str
    activation: Activation
    gui_enabled: bool = False
    listen_addr: str = ""
    log: LogSink = field(default_factory=NullLog)
    telegram: TelegramSide | None = None
    states: StateStore = field(default_factory=StateStore)
    rand_below: Callable[[int], int] = random.randrange
    limits: Limits = field(default_factory=from_os_environ)
    in_flight: Gauge = field(init=False)
    bodies: Gauge = field(init=False)

    def __post_init__(self) -> None:
        self.in_flight = Gauge(self.limits.max_in_flight)
        self.bodies = Gauge(self.limits.body_budget_bytes)

    def busy(self, message: str) -> Response:
        """A 503 for a limit reached, with the `Retry-After` the limits name; the connection
        closes (an overloaded worker does not read and discard the rest of a big body)."""
        headers = {"Retry-After": str(self.limits.retry_after_s), "Connection": "close"}
        return text(503, message, headers)

    def status(self) -> dict[str, Any]:
        """The `greentic.status.v1` document."""
        a = self.activation
        return {
            "schema": schemas.STATUS,
            "env_id": self.env_id,
            "listen_addr": self.listen_addr,
            "bundles_active": a.bundles_active,
            "deployments_routed": a.deployments_routed,
            "revisions_active": a.revisions_active,
        }


class Run(NamedTuple):
    """One dispatched run: where it goes and what it carries (a NamedTuple: built per request)."""

    revision: ActiveRevision
    entry: dict[str, Any]
    session: str | None
    tenant: str
    keep_state: bool = True


def text(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, headers=headers, media_type="text/plain")


PROBE_OK = text(200, "ok")  # stateless once built: one instance answers every probe


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # built once, not per reply


def json_response(doc: Any, status: int = 200) -> Response:
    return JsonResponse(_JSON.encode(doc).encode(), status)


@functools.lru_cache(maxsize=256)  # tenants come from the environment: a handful
def _reply_head(tenant: str) -> str:
    """`{"kind":…,"tenant":…,"payload":` of `ingress.replies`, encoded once per tenant."""
    whole = _JSON.encode({"kind": ingress.RESPONSE_KIND, "tenant": tenant, "payload": None})
    return whole.removesuffix("null}")


def replies_response(items: list[Any], tenant: str) -> Response:
    """`json_response(ingress.replies(items, tenant))`, encoding only the payloads per request."""
    head = _reply_head(tenant)
    body = ",".join([head + _JSON.encode(item) + "}" for item in items])
    return JsonResponse(f"[{body}]".encode())


@functools.cache
def chat_page() -> bytes:
    """The webchat console page (read once from the package)."""
    from importlib.resources import files

    return files("greentic.worker").joinpath("static/chat.html").read_bytes()


# Pure and asked on every request with the same few (Host, Origin) pairs; bounded, so hostile
# headers only churn the cache.
_loopback_request = functools.lru_cache(maxsize=1024)(loopback_request)
_ID_PREFIX = os.urandom(6).hex()  # message ids: unique per process, cheap per request
_MESSAGE_SEQ = itertools.count(1)


def headers_of(scope: Scope) -> dict[str, str]:
    """The request headers the pipeline reads, lowercased names, latin-1 values."""
    out: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name in WANTED_HEADERS:
            out[name.decode("latin-1")] = value.decode("latin-1")
    return out


class WorkerApp:
    """The ASGI app of one listener. Example: `WorkerApp(runtime, Listener(addr))`."""

    def __init__(self, runtime: Runtime, listener: Listener) -> None:
        self.runtime = runtime
        self.listener = listener

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["path"] in PROBES:  # before any limit: probes answer under load
            await PROBE_OK(scope, receive, send)
            return
        runtime = self.runtime
        if not runtime.in_flight.take(1):
            await runtime.busy(BUSY)(scope, receive, send)
            return
        reader = BodyReader(receive, runtime.bodies)
        try:
            try:
                response = await self.handle(scope, reader)
            except ClientGone:
                return
            except Exception as exc:
                response = self.failed(scope, exc)
            await response(scope, receive, send)
        finally:
            reader.release()
            runtime.in_flight.give(1)

    def failed(self, scope: Scope, exc: Exception) -> Response:
        """The limits' refusals, else a bug: a logged 500 (the system log keeps the
        traceback, stderr stays clean)."""
        if isinstance(exc, BodyTooLarge):
            return text(413, TOO_LARGE, {"Connection": "close"})  # no draining of the rest
        if isinstance(exc, BudgetExhausted):
            return self.runtime.busy(BODIES_FULL)
        trace = "".join(traceback.format_exception(exc))
        self.runtime.log.write("error", f"{scope['method']} {scope['path']}: {trace}")
        return text(500, INTERNAL)

    def trusted(self, scope: Scope, headers: dict[str, str]) -> bool:
        """A console listener, a loopback peer, a loopback Host and no foreign Origin."""
        client = scope.get("client")
        return (
            self.listener.trusted_console
            and is_loopback(client[0] if client else None)
            and _loopback_request(headers.get("host"), headers.get("origin"))
        )

    async def handle(self, scope: Scope, reader: BodyReader) -> Response:
        path: str = scope["path"]
        method: str = scope["method"]
        if path == "/status":
            return json_response(self.runtime.status())
        headers = headers_of(scope)
        if path == "/chat" and self.runtime.gui_enabled and self.trusted(scope, headers):
            if method not in ("GET", "HEAD"):
                return text(405, CONSOLE_GET_ONLY, {"Allow": "GET"})
            return Response(
                chat_page(), headers=CONSOLE_HEADERS, media_type="text/html; charset=utf-8"
            )
        if path == "/workers/invoke":
            refused = self.invoke_refusal(scope, method, headers)
            return refused or await self.invoke(reader, headers)
        if path == telegram.WEBHOOK_PATH and method == "POST":
            return await self.telegram_update(reader, headers)
        return await self.routed(scope, reader, headers)

    async def routed(self, scope: Scope, reader: BodyReader, headers: dict[str, str]) -> Response:
        """A request for a bound deployment: route → caller → flow → reply list (SPEC §7)."""
        path: str = scope["path"]
        method: str = scope["method"]
        route = routing.resolve(self.runtime.activation.routes, headers.get("host"), path)
        if route is None:
            return text(404, NOT_BOUND)
        body = await reader.read(headers.get("content-length"))
        try:
            doc, bad = parse_json(body), None
        except BadJson as exc:
            doc, bad = None, exc
        who = ingress.caller(headers, doc, trusted=self.trusted(scope, headers))
        refused = self.endpoint_refusal(who, route)
        if refused is not None:
            return refused
        if method != "POST":
            return text(405, POST_ONLY, {"Allow": "POST"})
        if bad is not None:
            return text(400, str(bad))
        act = ingress.activity(doc)
        run = self.dispatch(route, act, who)
        if run is None:
            return text(500, DISPATCH_FAILED)
        items = self.execute(run)
        if items is None:
            return text(500, FLOW_FAILED)
        return replies_response(items, run.tenant)

    def endpoint_refusal(self, who: ingress.Caller, route: routing.Route) -> Response | None:
        """An asserted messaging endpoint must exist (401) and be linked to the bundle (403)."""
        if who.endpoint is None:
            return None
        linked = self.runtime.activation.endpoints.get(who.endpoint)
        if linked is None:
            return text(401, ENDPOINT_UNKNOWN)
        if route.bundle_id not in linked:
            return text(403, ENDPOINT_NOT_LINKED)
        return None

    def invoke_refusal(self, scope: Scope, method: str, headers: dict[str, str]) -> Response | None:
        """Why `/workers/invoke` is refused (not POST, untrusted, not JSON), or None."""
        if method != "POST":
            return text(405, INVOKE_POST_ONLY, {"Allow": "POST"})
        if not self.trusted(scope, headers):
            return text(403, INVOKE_LOOPBACK_ONLY)
        kind = headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind != "application/json":
            return text(415, INVOKE_JSON_ONLY)
        return None

    async def telegram_update(self, reader: BodyReader, headers: dict[str, str]) -> Response:
        """A Telegram Update: secret-token gate, then the flow with the chat id as session; the
        reply goes out via sendMessage in the background, Telegram gets a quick 200."""
        route = routing.resolve(
            self.runtime.activation.routes, headers.get("host"), telegram.WEBHOOK_PATH
        )
        if route is None:
            return text(404, NOT_BOUND)
        side = self.runtime.telegram
        eps = telegram.linked_endpoints(side.env, route.bundle_id) if side else []
        if side is None or not eps:
            self.runtime.log.write("warn", f"telegram update refused: {telegram.NOT_LINKED}")
            return text(403, telegram.NOT_LINKED)
        header = headers.get(telegram.SECRET_HEADER)
        if header is None:
            return text(401, telegram.MISSING_HEADER)
        endpoint = telegram.match_secret(header, self.endpoint_secrets(side, eps))
        if endpoint is None:
            return text(401, telegram.NO_MATCH)
        try:
            doc = parse_json(await reader.read(headers.get("content-length")))
        except BadJson as exc:
            return text(400, str(exc))
        msg = telegram.parse_update(doc)
        if msg is None:
            kind = sorted(doc)[:4] if isinstance(doc, dict) else type(doc).__name__
            self.runtime.log.write(
                "info", f"telegram update without a text message ({kind}) acknowledged"
            )
            return text(200, "ok")
        act = ingress.Activity(kind="message", text=msg.text, payload={"text": msg.text})
        who = ingress.Caller(user=msg.user, session=f"telegram:{msg.chat_id}", endpoint=endpoint)
        run = self.dispatch(route, act, who)
        if run is None:
            return text(500, DISPATCH_FAILED)
        texts = telegram.reply_texts(self.execute(run) or [])
        if texts:
            token_ref = telegram.bot_token_ref(self.runtime.env_id, route.tenant)
            side.send(token_ref, msg.chat_id, texts)
        return text(200, "ok")

    def endpoint_secrets(
        self, side: TelegramSide, eps: list[MessagingEndpoint]
    ) -> list[tuple[str, str]]:
        """`(endpoint id, webhook secret)` of each endpoint whose secret can be read now."""
        out: list[tuple[str, str]] = []
        for ep in eps:
            ref = ep.webhook_secret_ref or ""
            try:
                value = side.secret(ref)
            except GreenticError as exc:
                self.runtime.log.write("error", f"reading webhook secret `{ref}`: {exc.message}")
                continue
            if value is None:
                self.runtime.log.write(
                    "warn",
                    f"webhook secret `{ref}` of endpoint {ep.endpoint_id} is missing from the "
                    "dev-store; its Telegram updates are refused",
                )
                continue
            out.append((ep.endpoint_id, value))
        return out

    def dispatch(
        self, route: routing.Route, act: ingress.Activity, who: ingress.Caller
    ) -> Run | None:
        """Pick the revision and build the flow input; None when nothing carries weight."""
        activation = self.runtime.activation
        deployment = activation.deployment(route.deployment_id)
        revision_id = routing.pick(
            deployment.weights,
            session_key=ingress.pin_key(route, who),
            rand_below=self.runtime.rand_below,
        )
        if revision_id is None:
            self.runtime.log.write(
                "error", f"revision dispatch for deployment {route.deployment_id} failed"
            )
            return None
        message_id = f"{_ID_PREFIX}-{next(_MESSAGE_SEQ)}"
        session = ingress.session_id(act, who, route, request_id=message_id)
        entry = ingress.flow_input(
            act,
            who,
            route,
            env_id=self.runtime.env_id,
            session=session,
            message_id=message_id,
        )
        revision = deployment.revision(revision_id)
        return Run(revision, entry, session, route.tenant, keep_state=not who.ephemeral)

    def execute(self, run: Run) -> list[Any] | None:
        """Run the flow: its reply items, the failure reply when sessioned, else None (→ 500)."""
        rev = run.revision
        key = (rev.revision_id, run.tenant, run.session or "")
        state: dict[str, Any] = self.runtime.states.scope(key) if run.keep_state else {}
        try:
            outcome = rev.run(run.entry, state=state)
        except engine.FlowFailed as exc:
            error = str(exc)
        except Exception as exc:  # a bug in a flow op must not take the worker down
            error = f"internal error: {exc}"
            self.runtime.log.write("error", traceback.format_exc())
        else:
            for item in outcome.logs:
                self.runtime.log.write("info", f"flow log ({rev.revision_id}): {item}")
            return ingress.reply_items(outcome.output)
        self.runtime.log.write(
            "error",
            f"revision execution failed for deployment {rev.deployment_id} "
            f"revision {rev.revision_id}: {error}",
        )
        if run.session is None:
            return None
        return [ingress.failure_payload(error, rev.entry_flow or "")]

    async def invoke(self, reader: BodyReader, headers: dict[str, str]) -> Response:
        """POST /workers/invoke from a trusted loopback caller."""
        body = await reader.read(headers.get("content-length"))
        try:
            req = invoke.parse(body)
        except invoke.BadInvoke as exc:
            return text(400, f"invalid HostWorkerRequest body: {exc}")
        route = routing.resolve_worker(self.runtime.activation.routes, req.tenant_id)
        if route is None:
            return text(404, INVOKE_NO_DEPLOYMENT)
        payload = invoke.normalize_payload(req.payload)
        act = ingress.activity(payload)
        who = ingress.Caller(user=req.user_id, session=req.session_id)
        run = self.dispatch(route, act, who)
        if run is None:
            return text(500, DISPATCH_FAILED)
        items = self.execute(run)
        if items is None:
            return text(500, FLOW_FAILED)
        doc = invoke.response(
            req,
            worker_id=route.bundle_id,
            items=items,
            timestamp_utc=timestamp(),
        )
        return json_response(doc)
