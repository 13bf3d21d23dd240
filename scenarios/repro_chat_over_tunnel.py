"""Repro: /chat 405 and /workers/invoke 403 on a tunneled worker; the admin listener serves them.

seeds/000's troubleshooting row "/chat returns 405/403 over the tunnel".

- symptom: with the tunnel up, the main port and the tunnel answer `GET /chat` 405 and
  `POST /workers/invoke` 403, with the worker's own texts.
- cause: the loopback-trust posture (cloudflared forwards from loopback, so the tunneled main
  port serves webhooks only); evidence: the banner's `webchat console enabled on the loopback
  admin listener — open http://127.0.0.1:<main+1>/chat …` line.
- fix: use the admin listener the banner names (on K8s: `kubectl port-forward … 8081:8081`;
  on the host track it is already on loopback).
- recovered: the same two requests on the admin listener: /chat 200 (the console page) and
  /workers/invoke 200 with the flow's reply.

Skip-fix (`GTC_REPRO_SKIP_FIX=1`): the probes stay on the main port, which still answers
405/403 — recovered fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from harness.context import ScenarioContext, ScenarioResult
from harness.errors import HarnessError
from harness.fakes import edges
from harness.tracks import Capability
from scenarios import _common as common
from scenarios import _repro as repro
from scenarios import _repro_tunnel as shared
from scenarios._tunnel import EXPECT_REPLY, HTTP_TIMEOUT_S

# the worker is a local process behind local fakes (scenarios/tunnel.py's host path)
NEEDS = (Capability.LOCAL_PROCESS,)

ROW = repro.Row(
    name="chat-over-tunnel",
    symptom="/chat returns 405/403 over the tunnel",
    cause="Loopback-trust posture: the tunneled main port serves webhooks only.",
    fix="Port-forward the admin listener (8081, main+1). The boot banner prints the port.",
)

INVOKE = {"tenant": {"tenant_id": "tenant-default"}, "payload": {"text": "hi"}}
# what the worker answers an untrusted caller (greentic/worker/app.py), asserted verbatim
CHAT_REFUSED = (405, "only POST is supported for the generic revision ingress")
INVOKE_REFUSED = (403, "worker invoke is restricted to loopback callers")
CONSOLE_LINE = (
    r"webchat console enabled on the loopback admin listener — open "
    r"(http://127\.0\.0\.1:(\d+))/chat \(port-forward it on K8s\); the public listener on "
    r"http://127\.0\.0\.1:(\d+) serves provider webhooks only while a tunnel is up"
)


@dataclass(frozen=True)
class Answer:
    status: int
    text: str


def probe(base: str) -> dict[str, Answer]:
    """`GET /chat` and `POST /workers/invoke` at `base`, as an operator's browser/curl."""
    with httpx.Client(timeout=HTTP_TIMEOUT_S, trust_env=False) as client:
        chat = client.get(f"{base}/chat")
        invoke = client.post(f"{base}/workers/invoke", json=INVOKE)
    return {
        "GET /chat": Answer(chat.status_code, chat.text),
        "POST /workers/invoke": Answer(invoke.status_code, invoke.text),
    }


def probe_tunnel(edge: edges.Edge) -> dict[str, Answer]:
    """The same two requests arriving through the tunnel's edge (as from the internet)."""
    chat = edge.request("GET", "/chat")
    invoke = edge.request("POST", "/workers/invoke", json=INVOKE)
    return {
        "GET /chat": Answer(chat.status_code, chat.text),
        "POST /workers/invoke": Answer(invoke.status_code, invoke.text),
    }


def run(ctx: ScenarioContext) -> ScenarioResult:
    setup = shared.prepare(ctx)
    tunneled = shared.start(ctx, setup)
    worker = tunneled.worker
    try:
        edge = setup.registry.wait(tunneled.public_url, watch=worker)
    except HarnessError as exc:
        ctx.fail("the public URL is the fake tunnel's", str(exc))

    # -- symptom: refused on the main port and through the tunnel -----------------------------
    repro.symptom(ctx, ROW.symptom)
    for where, answers in (("main port", probe(worker.base_url)), ("tunnel", probe_tunnel(edge))):
        expect_refused(ctx, where, answers)

    # -- cause: the banner says where the console went ------------------------------------------
    repro.cause(ctx, ROW.cause)
    line = re.search(CONSOLE_LINE, worker.stdout())
    main_port = int(worker.base_url.rsplit(":", 1)[1])
    ok = (
        line is not None
        and int(line.group(2)) == main_port + 1
        and int(line.group(3)) == main_port
        and line.group(1) == tunneled.admin_url
    )
    ctx.check(
        f"banner: the console is on the loopback admin listener 127.0.0.1:{main_port + 1} "
        f"(main {main_port} + 1), the tunneled main port serves webhooks only",
        ok,
        line.group(0) if line else "no such line on stdout",
        evidence=common.worker_evidence(worker, "worker"),
    )

    # -- fix: go to the admin listener the banner printed ---------------------------------------
    target = worker.base_url

    def use_admin_listener() -> None:
        nonlocal target
        target = tunneled.admin_url

    repro.fix(
        ctx,
        f"open the admin listener the banner names: {tunneled.admin_url}/chat "
        "(on K8s: kubectl port-forward <pod> 8081:8081)",
        use_admin_listener,
    )

    # -- recovered: the same requests succeed ---------------------------------------------------
    repro.recovered(ctx, f"/chat and /workers/invoke answer 200 at {target}")
    answers = probe(target)
    ctx.artifacts.write_json("evidence/recovered.json", {k: v.__dict__ for k, v in answers.items()})
    chat, invoke = answers["GET /chat"], answers["POST /workers/invoke"]
    ctx.check(
        f"GET {target}/chat → 200, the webchat console",
        chat.status == 200 and "<html" in chat.text.lower(),
        f"HTTP {chat.status} {chat.text[:120]!r}",
    )
    ctx.check(
        f"POST {target}/workers/invoke → 200 with {EXPECT_REPLY!r}",
        invoke.status == 200 and EXPECT_REPLY in invoke.text,
        f"HTTP {invoke.status} {invoke.text[:200]!r}",
    )
    ctx.urls["admin chat"] = f"{tunneled.admin_url}/chat"
    return ctx.result()


def expect_refused(ctx: ScenarioContext, where: str, answers: dict[str, Answer]) -> None:
    """GET /chat 405 and POST /workers/invoke 403 at `where`, with the worker's own texts."""
    for request, (status, text) in (
        ("GET /chat", CHAT_REFUSED),
        ("POST /workers/invoke", INVOKE_REFUSED),
    ):
        got = answers[request]
        ok = (got.status, got.text.strip()) == (status, text)
        ctx.check(
            f"{where}: {request} → {status} {text!r}",
            ok,
            f"as {where} answers it" if ok else f"HTTP {got.status} {got.text[:200]!r}",
        )
