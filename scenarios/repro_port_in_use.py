"""Project row: a second worker cannot listen because the address is already in use.

The operator starts a worker while another one (or anything) still holds its address.
Symptom: the boot exits 1 with exactly ``cannot listen on 127.0.0.1:P: the address is already
in use`` (one JSON error line, kind `conflict`) and never serves. Cause: something listens on
P — here the first worker, whose /status answers there. Fix, as the error's own hint says:
start again with `PORT=<the port it suggests>` (PORT wins over GREENTIC_GATEWAY_LISTEN_ADDR).
Recovered: the worker serves on that port, next to the one that held P. A local process: on
a pod track each pod has its own network namespace, so two workers never share a port.
"""

from __future__ import annotations

import re

import httpx

from harness import waits
from harness.context import ScenarioContext, ScenarioResult
from harness.errors import HarnessError
from harness.op import parse_error
from harness.tracks import Capability, RunningWorker
from scenarios import _common as common
from scenarios import _repro as repro

NEEDS = (Capability.LOCAL_PROCESS,)

ROW = repro.Row(
    name="port-in-use",
    symptom="`cannot listen on 127.0.0.1:8080: the address is already in use`",
    cause="another worker (or anything) holds the port",
    fix="stop it (`greentic-start stop --env <id>`) or take the port the hint names: "
    "`PORT=8081 greentic-start start --env <id>`",
)

ENV_ID = "local"
LISTEN_ENV = "GREENTIC_GATEWAY_LISTEN_ADDR"
MESSAGE = "cannot listen on {address}: the address is already in use"
HINT_PORT = re.compile(r"PORT=(\d+) greentic-start start --env " + ENV_ID)
BANNER = r"no bundles attached to env `local`"
DEADLINE_S = 20.0


def run(ctx: ScenarioContext) -> ScenarioResult:
    cli = common.gtc(ctx)
    ctx.step(f"prepare: author env `{ENV_ID}`; a first worker serves it")
    common.create_env(ctx, cli, ENV_ID)
    holder = ctx.backend.start(ctx, ENV_ID, pod="first")
    common.expect_banner(ctx, holder, BANNER, DEADLINE_S)
    address = holder.base_url.removeprefix("http://")

    repro.symptom(ctx, f"a second worker on {address} refuses to start")
    second = ctx.backend.start(
        ctx, ENV_ID, pod="second", env={LISTEN_ENV: address}, expect_exit=True
    )
    common.expect_refused_boot(ctx, second, DEADLINE_S)
    kind, message, hint = parse_error(second.stderr())
    expected = MESSAGE.format(address=address)
    ctx.check(
        f"exact error: {expected}",
        (kind, message) == ("conflict", expected),
        f"kind {kind}" if message == expected else f"got ({kind}) {message!r}",
        evidence=common.worker_evidence(second, "second"),
    )

    repro.cause(ctx, f"another worker holds {address}")
    status = get_json(f"{holder.base_url}/status")
    ctx.check(
        f"{address} answers: the first worker's /status",
        status.get("env_id") == ENV_ID,
        f"env_id {status.get('env_id')} served there since before the second boot",
        evidence={"holder-status.json": status},
    )
    found = HINT_PORT.search(hint or "")
    ctx.check("the hint names a free port", found is not None, hint or "no hint")
    assert found is not None
    port = found.group(1)
    retried: list[RunningWorker] = []

    def take_the_hinted_port() -> None:
        retried.append(
            ctx.backend.start(ctx, ENV_ID, pod="second", env={LISTEN_ENV: address, "PORT": port})
        )

    repro.fix(ctx, f"start again with PORT={port}, as the hint says", take_the_hinted_port)

    repro.recovered(ctx, f"the worker serves on 127.0.0.1:{port}; the first one still serves")
    again = retried[0] if retried else second
    common.expect_banner(ctx, again, rf"{BANNER}.* on http://127\.0\.0\.1:{port}", DEADLINE_S)
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        waits.until_http(url, watch=again, timing=waits.Timing(timeout=DEADLINE_S)).status(200)
        ok, detail = True, f"GET {url} → 200"
    except HarnessError as exc:
        ok, detail = False, str(exc).splitlines()[0]
    ctx.check(f"/healthz 200 on 127.0.0.1:{port}", ok, detail)
    ctx.check("the first worker still serves", holder.exit_code() is None, address)
    return ctx.result()


def get_json(url: str) -> dict[str, object]:
    try:
        with httpx.Client(timeout=common.HTTP_TIMEOUT_S, trust_env=False) as client:
            doc = client.get(url).json()
    except (httpx.HTTPError, ValueError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return doc if isinstance(doc, dict) else {"body": doc}
