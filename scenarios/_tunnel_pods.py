"""The tunnel scenario on a pod track, from seeds/000 itself (issue #11).

seeds/000's two-command flow with fakes for the internet: its manifest pair (`k8s.env.json`
+ `deployer-answers.json`: `tunnel: cloudflared`, a runtime image that carries the fake
cloudflared) applied with `TELEGRAM_DEMO_BOT_TOKEN=… gtc op --answers k8s.env.json env apply
--yes` (the token inline from the environment), then reconciled: the rendered pods run
(router; worker with the stage-dev-secrets init container). The bundle is pulled by uri +
digest from the in-network OCI registry, as the seed's is from ghcr. The track's fake
internet (harness.fakenet) is the Bot API the worker registers with and the edge its
Updates arrive through. `/chat` is reached through `worker.port_forward(8081)`, the
equivalent of the seed's `kubectl port-forward 8081:8081`. Used by scenarios/tunnel.py on a
track without a local process.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from harness.context import ScenarioContext, ScenarioResult
from harness.errors import HarnessError
from harness.fakenet import FakeInternet, FakeInternetPods
from harness.fakes import edges
from harness.tracks import INSECURE_ENV, Capability, PodBackend, PodWorker
from scenarios import _common as common
from scenarios import _pods as pods
from scenarios._tunnel import (
    ADMIN,
    BANNER,
    BOT,
    BUNDLE_ID,
    DEADLINE_S,
    ENDPOINT,
    ENV_ID,
    FIXTURE,
    PROVIDER_TYPE,
    PUBLIC_URL,
    TOKEN_ENV,
    TOKEN_PATH,
    authored_secret,
    check_fake_saw_only_bot_api,
    check_no_secret_leaked,
    check_registration,
    check_round_trip,
    match_line,
    new_bot_token,
    record_calls,
    status_of,
)

TAG = "v1"
SERVE_PORT = 8080
ADMIN_PORT = SERVE_PORT + 1  # the worker's loopback admin listener when tunneled
EXPECT_OBJECTS = 15  # SPEC §6.3: a webchat+Telegram env (12 + dev-secrets Secret + worker pair)
READY_S = 90.0
SECRETS_KIND = "greentic.secrets.dev-store@1.0.0"  # seeds/000 packs[]


def fake_internet(ctx: ScenarioContext) -> FakeInternetPods:
    """The run's backend as `FakeInternetPods` (the scenario needs FAKE_INTERNET)."""
    backend = ctx.backend
    if not ctx.can(Capability.FAKE_INTERNET) or not isinstance(backend, FakeInternetPods):
        raise HarnessError(
            f"the `{ctx.track}` track runs workers as pods but cannot put the tunnel's fake "
            "internet in front of them\nHint: implement harness.fakenet.FakeInternetPods "
            "and declare Capability.FAKE_INTERNET"
        )
    return backend


def manifest(source_uri: str, digest: str) -> dict[str, Any]:
    """seeds/000's `k8s.env.json`, its bundle moved to the in-network registry."""
    route = {
        "hosts": [],
        "path_prefixes": ["/"],
        "tenant_selector": {"tenant": "tenant-default", "team": "default"},
    }
    return {
        "schema": "greentic.env-manifest.v1",
        "environment": {"id": ENV_ID, "name": "k8s", "gui_enabled": True},
        "trust_root": "bootstrap",
        "packs": [
            {
                "slot": "deployer",
                "kind": "greentic.deployer.k8s@1.0.0",
                "pack_ref": "builtin",
                "answers_ref": "deployer-answers.json",
            },
            {"slot": "secrets", "kind": SECRETS_KIND, "pack_ref": "builtin"},
        ],
        "bundles": [
            {
                "bundle_id": BUNDLE_ID,
                "bundle_source_uri": source_uri,
                "bundle_digest": digest,
                "route_binding": route,
            }
        ],
        "secrets": [{"path": TOKEN_PATH, "from_env": TOKEN_ENV}],
        "messaging_endpoints": [
            {"name": ENDPOINT, "provider_type": PROVIDER_TYPE, "links": [BUNDLE_ID]}
        ],
    }


def run(ctx: ScenarioContext) -> ScenarioResult:
    backend = pods.pod_backend(ctx)
    token = new_bot_token()

    # -- prepare: the fake internet, the bundle in the registry, the manifest pair ----------
    ctx.step("prepare: fake internet as pods (fake cloudflared in the image, fake Bot API)")
    internet = fake_internet(ctx).fake_internet(ctx, tokens={BOT: token})
    ctx.stack.callback(lambda: record_calls(ctx, internet.api))
    ctx.step(f"prepare: push {FIXTURE} to the in-network OCI registry")
    registry = backend.registry(ctx)
    bundle = common.fixture(ctx, FIXTURE)
    cli = common.gtc(ctx)
    cli.run("bundle", "push", str(bundle), registry.ref(f"{BUNDLE_ID}:{TAG}"), "--insecure")
    authority = backend.authority_for(registry)
    answers = internet.deployer_answers([authority])
    declarative = ctx.work_dir / "declarative"
    declarative.mkdir()
    (declarative / "deployer-answers.json").write_text(json.dumps(answers, indent=2) + "\n")
    env_manifest = declarative / "k8s.env.json"
    source_uri = backend.bundle_uri_for(registry, f"{BUNDLE_ID}:{TAG}")
    doc = manifest(source_uri, common.sha256_of(bundle))
    env_manifest.write_text(json.dumps(doc, indent=2) + "\n")
    ctx.artifacts.write_json("declarative/k8s.env.json", doc)
    ctx.artifacts.write_json("declarative/deployer-answers.json", answers)

    # -- act: the two commands, env apply (token inline) and reconcile ---------------------
    ctx.step(f"act: {TOKEN_ENV}=… gtc op --answers k8s.env.json env apply --yes")
    with_token = dataclasses.replace(cli, env={**cli.env, TOKEN_ENV: token})
    with_token.op("env", "apply", "--yes", answers=env_manifest)
    ctx.step(f"act: gtc op env reconcile {ENV_ID} — the rendered pods run")
    worker = pods.pod_worker(ctx, backend.start(ctx, ENV_ID, env={INSECURE_ENV: authority}))
    check_as_applied(ctx, backend, answers)

    # -- check: tunnel, registration, loopback trust, a Telegram round trip, secrets ---------
    common.expect_banner(ctx, worker, BANNER, DEADLINE_S)
    public_url = match_line(ctx, worker, PUBLIC_URL, "public URL printed in the worker pod's log")
    admin = match_line(ctx, worker, ADMIN, "admin listener on the pod's loopback printed")
    ctx.check(
        f"admin listener on 127.0.0.1:{ADMIN_PORT}",
        admin == f"http://127.0.0.1:{ADMIN_PORT}",
        admin,
    )
    edge = check_tunnel(ctx, internet, worker, public_url)
    secret = endpoint_secret(ctx)
    check_registration(ctx, internet.api, worker, public_url, secret)
    check_loopback_trust(ctx, worker, edge)
    check_round_trip(ctx, internet.api)
    check_fake_saw_only_bot_api(ctx, internet.api)
    check_no_secret_leaked(ctx, {"bot token": token, "webhook secret": secret})

    ctx.urls["public"] = public_url
    ctx.notes.append(
        f"tunnel {public_url} → edge {edge.port} in the worker pod → 127.0.0.1:{SERVE_PORT}; "
        f"/chat via worker.port_forward({ADMIN_PORT}) (kubectl port-forward {ADMIN_PORT})"
    )
    return ctx.result()


# -- checks -------------------------------------------------------------------------------
def check_as_applied(ctx: ScenarioContext, backend: PodBackend, answers: dict[str, Any]) -> None:
    """The pods run what `env apply` bound (the deployer answers are the pair's, not rebound
    by the harness), and a second reconcile renders the seed's 15 objects, changing no pod."""
    bound_path = ctx.store_root / ENV_ID / "env-packs" / "deployer" / "answers.json"
    bound = json.loads(bound_path.read_text())
    ctx.check(
        "deployer answers as the manifest pair bound them (tunnel: cloudflared)",
        bound == answers,
        json.dumps(bound, sort_keys=True),
    )
    again = pods.reconcile(ctx, backend, ENV_ID, applied=EXPECT_OBJECTS, pruned=0)
    moved = {k: v for k, v in (again.get("pods") or {}).items() if v}
    ctx.check(
        "a second reconcile starts, replaces or removes no pod",
        not moved,
        "pods unchanged" if not moved else f"pods: {moved}",
    )


def endpoint_secret(ctx: ScenarioContext) -> str:
    """The webhook secret `env apply` minted for the endpoint, from the authored dev-store."""
    doc = json.loads((ctx.store_root / ENV_ID / "environment.json").read_text())
    found = [
        e
        for e in doc.get("messaging_endpoints", [])
        if ENDPOINT in (e.get("display_name"), e.get("provider_id"))
    ]
    ref = str(found[0].get("webhook_secret_ref", "")) if found else ""
    secret = authored_secret(ctx, ref) if ref else None
    ctx.check(
        f"env apply minted the webhook secret of endpoint `{ENDPOINT}`",
        bool(secret),
        f"secret at {ref}" if secret else f"no secret for `{ENDPOINT}` ({ref or 'no ref'})",
    )
    return str(secret)


def check_tunnel(
    ctx: ScenarioContext, internet: FakeInternet, worker: PodWorker, url: str
) -> edges.Edge:
    """The URL is the fake's (its edge recorded in the pod), spawned as upstream does."""
    try:
        edge = internet.edge(worker, url, deadline_s=DEADLINE_S)
    except HarnessError as exc:
        ctx.fail("the public URL is the fake tunnel's", str(exc))
    expected = ("tunnel", "--url", f"http://127.0.0.1:{SERVE_PORT}", "--no-autoupdate")
    ctx.check(
        f"cloudflared spawned in the pod as `{' '.join(expected)}`",
        edge.argv == expected,
        f"argv {list(edge.argv)}",
    )
    return edge


def check_loopback_trust(ctx: ScenarioContext, worker: PodWorker, edge: edges.Edge) -> None:
    """The tunneled main port serves no console — through its Service port, a port-forward
    (a loopback peer) or the tunnel; the admin listener, port-forwarded, does."""
    body = {"text": "hi"}
    invoke = "/workers/invoke"
    tunnel_host = {"Host": edge.host}
    with (
        worker.port_forward(SERVE_PORT) as forwarded,
        worker.port_forward(ADMIN_PORT) as admin,
        worker.port_forward(edge.port) as tunnel,
    ):
        seen = {
            "main GET /chat": status_of("GET", f"{worker.base_url}/chat"),
            "main POST /workers/invoke": status_of("POST", f"{worker.base_url}{invoke}", json=body),
            "port-forward 8080 GET /chat": status_of("GET", f"{forwarded}/chat"),
            "tunnel GET /chat": status_of("GET", f"{tunnel}/chat", headers=tunnel_host),
            "tunnel POST /workers/invoke": status_of(
                "POST", f"{tunnel}{invoke}", headers=tunnel_host, json=body
            ),
            "tunnel POST /workers/invoke (Host 127.0.0.1)": status_of(
                "POST", f"{tunnel}{invoke}", headers={"Host": "127.0.0.1"}, json=body
            ),
            f"port-forward {ADMIN_PORT} GET /chat": status_of("GET", f"{admin}/chat"),
        }
    want = {k: 405 if k.endswith("/chat") else 403 for k in seen}
    want[f"port-forward {ADMIN_PORT} GET /chat"] = 200
    ctx.artifacts.write_json("evidence/loopback-trust.json", seen)
    for name, code in seen.items():
        ctx.check(f"{name} → {want[name]}", code == want[name], f"HTTP {code}")
