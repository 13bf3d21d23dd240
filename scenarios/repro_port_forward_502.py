"""Row 5: a port-forward stops answering after a rollout, until it is restarted.

A port-forward binds ONE pod (`kubectl port-forward pod/…`, or a deployment resolved to its
pod when the forward starts). The operator forwards to the worker, then changes a secret
(`gtc op secrets put`) and reconciles: the worker Deployment's `greentic.ai/dev-store-hash`
changes and the worker pod is replaced. Symptom: the old forward gets no HTTP answer — the
connection is reset or closed, which a browser or proxy in front shows as 502 Bad Gateway.
Cause: the forward's pod is gone — the pod serving now staged another dev-store, and it answers
through its own Service port. Fix: restart the port-forward (it binds the new pod).
Recovered: /healthz through the new forward → 200.
"""

from __future__ import annotations

import secrets
from contextlib import ExitStack

import httpx

from harness import waits
from harness.context import ScenarioContext, ScenarioResult
from harness.tracks import Capability
from scenarios import _common as common
from scenarios import _pods as pods
from scenarios import _repro as repro
from scenarios import _repro_pods as rp

NEEDS: tuple[Capability, ...] = (
    Capability.RECONCILE,
    Capability.READINESS,
    Capability.PORT_FORWARD,
)

ROW = repro.Row(
    name="port-forward-502",
    symptom="`port-forward` returns 502 after a rollout",
    cause="a port-forward binds one pod; the rollout replaced it",
    fix="restart the port-forward (`kubectl port-forward …` again; it binds the new pod)",
)

ENV_ID = rp.ENV_ID
BUNDLE_ID = "webchat-bot"
FIXTURE = "webchat-bot.gtbundle"
SECRET_PATH = "tenant-default/_/app/api_key"
SECRET_ENV = "GTC_REPRO_API_KEY"
SERVE_PORT = 8080
HTTP_TIMEOUT_S = 3.0
READY_DEADLINE_S = 60.0
# The Deployment stops the replaced pod only after the new one is Ready (SIGTERM, then its
# graceful stop): until then the old forward still reaches a live worker.
OLD_POD_STOP_S = 60.0


def get_healthz(base: str) -> str:
    """One GET /healthz through `base`: `HTTP <code>` or the failure as the client sees it."""
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT_S, trust_env=False) as client:
            return f"HTTP {client.get(f'{base}/healthz').status_code}"
    except httpx.HTTPError as exc:
        return f"no HTTP answer ({type(exc).__name__}: {exc or 'closed'})"


def answer_once_stopped(base: str) -> str:
    """What `base` answers once the pod behind it has stopped: polled while it still answers
    (the rollout is scaling the old pod down), at most OLD_POD_STOP_S; the last answer."""
    seen = [""]

    def refused() -> str | None:
        seen[0] = get_healthz(base)
        return seen[0] if seen[0].startswith("no HTTP answer") else None

    try:
        return waits.Poll(
            what="the replaced pod to stop answering through the old port-forward",
            attempt=refused,
            timing=waits.Timing(timeout=OLD_POD_STOP_S, interval=0.5),
            status=lambda: seen[0],
        ).run()
    except waits.WaitTimeout:
        return seen[0]


def run(ctx: ScenarioContext) -> ScenarioResult:
    backend = pods.pod_backend(ctx)
    cli = common.gtc(ctx)
    bundle = common.fixture(ctx, FIXTURE)
    ctx.step("prepare: env `local` (dev-store secrets, one secret) routes webchat-bot; Ready")
    distributor = backend.serve_bundles(ctx, ctx.work_dir / "distributor")
    distributor.publish(bundle)
    common.create_env(ctx, cli, ENV_ID)
    rp.bind_dev_store(cli)
    rp.put_secret(cli, SECRET_PATH, SECRET_ENV, secrets.token_urlsafe(16))
    authored = common.add_routed_bundle(
        ctx,
        cli,
        env_id=ENV_ID,
        bundle_id=BUNDLE_ID,
        bundle_path=bundle,
        source_uri=backend.bundle_uri_for(distributor, bundle.name),
    )
    worker = pods.pod_worker(ctx, backend.start(ctx, ENV_ID))
    first_store = rp.staged_hash(worker)
    forwards = ExitStack()
    ctx.stack.enter_context(forwards)
    old = forwards.enter_context(worker.port_forward(SERVE_PORT))
    ctx.check("port-forward to the worker pod: /healthz → HTTP 200", get_healthz(old) == "HTTP 200")

    ctx.step("act: rotate a secret (`gtc op secrets put`) and reconcile: the worker rolls")
    rp.put_secret(cli, SECRET_PATH, SECRET_ENV, secrets.token_urlsafe(16))
    rp.reconcile_changed(ctx, backend, authored.revision_id)
    rp.wait_staged(ctx, worker, rp.authored_hash(ctx), "the rolled worker pod is Ready")

    repro.symptom(ctx, ROW.symptom)
    seen = answer_once_stopped(old)
    ctx.check(
        "the old port-forward gets no HTTP answer (a proxy in front shows 502)",
        seen.startswith("no HTTP answer"),
        seen,
    )

    repro.cause(ctx, ROW.cause)
    now_store = rp.staged_hash(worker)
    ctx.check(
        "the pod serving now is another one (it staged the rotated dev-store)",
        now_store != first_store,
        f"the forward's pod staged {first_store[:12]}…, the pod now {now_store[:12]}…",
    )
    pods.expect_healthz(ctx, worker, READY_DEADLINE_S)  # the new pod serves, just not there

    fresh: list[str] = []

    def restart_forward() -> None:
        forwards.close()  # the operator stops the dead `kubectl port-forward`
        fresh.append(forwards.enter_context(worker.port_forward(SERVE_PORT)))

    repro.fix(ctx, "restart the port-forward (it binds the pod running now)", restart_forward)

    repro.recovered(ctx, "/healthz through the port-forward → 200")
    base = fresh[0] if fresh else old
    seen = get_healthz(base)
    ctx.check("port-forward /healthz → HTTP 200", seen == "HTTP 200", seen)
    ctx.notes.append("the forward bound the replaced pod; a restarted forward binds the new one")
    return ctx.result()
