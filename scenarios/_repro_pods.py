"""What the pod-track troubleshooting repros share (rows 3, 5 and 8): an env whose secrets slot is
the dev-store, a secret sealed with `gtc op secrets put`, and the evidence of which dev-store a
worker pod runs with.

The rendered worker Deployment carries `greentic.ai/dev-store-hash` (sha256 of the Secret's
data); its init container `stage-dev-secrets` COPIES the dev-store into the pod's own store
once, at pod start. So "the store this pod has" is the staged copy, hashed the product's way
(`render.dev_store_hash`), and "what the next reconcile applies" is the annotation in `gtc op
env render --out`'s worker Deployment. Used by scenarios/repro_port_forward_502.py,
repro_secret_not_applied.py and repro_crashloop_egress.py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from greentic.deployer.k8s import naming
from greentic.deployer.k8s.pods import DEV_SECRETS_KEY
from greentic.deployer.k8s.render import dev_store_hash
from harness import waits
from harness.context import ScenarioContext
from harness.errors import HarnessError
from harness.op import Gtc
from harness.tracks import PodBackend, PodWorker
from scenarios import _common as common

ENV_ID = "local"
DEV_STORE_KIND = "greentic.secrets.dev-store@0.1.0"
STAGED = f".greentic/dev/{DEV_SECRETS_KEY}"  # the pod's copy, under its env dir
AUTHORED = Path(ENV_ID) / ".greentic" / "dev" / DEV_SECRETS_KEY  # under the store root
ROLL_DEADLINE_S = 30.0


def bind_dev_store(cli: Gtc, env_id: str = ENV_ID) -> None:
    """`op env-packs add slot=secrets kind=<dev-store>`: the pods stage the dev-store."""
    cli.op(
        "env-packs",
        "add",
        f"environment_id={env_id}",
        "slot=secrets",
        f"kind={DEV_STORE_KIND}",
        "pack_ref=builtin",
    )


def put_secret(cli: Gtc, path: str, var: str, value: str, env_id: str = ENV_ID) -> None:
    """`VAR=… gtc op secrets put <path> --from-env VAR` (the value never on argv)."""
    with_value = dataclasses.replace(cli, env={**cli.env, var: value})
    with_value.op("secrets", "put", path, "--env", env_id, "--from-env", var)


def authored_hash(ctx: ScenarioContext) -> str:
    """`dev_store_hash` of the operator's dev-store (what `secrets put` changed)."""
    path = ctx.store_root / AUTHORED
    return dev_store_hash(path.read_bytes() if path.is_file() else None)


def staged_hash(worker: PodWorker) -> str:
    """`dev_store_hash` of the copy the pod's init container staged (None → the empty hash)."""
    return dev_store_hash(worker.env_file(STAGED))


def rendered_hash(ctx: ScenarioContext, cli: Gtc, revision_id: str, tag: str) -> str:
    """The `greentic.ai/dev-store-hash` of the revision's worker Deployment as `gtc op env
    render --out DIR` writes it: what the next reconcile applies."""
    out = ctx.work_dir / f"rendered-{tag}"
    cli.op("env", "render", ENV_ID, "--out", str(out))
    name = naming.worker_name(revision_id)
    for path in sorted(out.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if doc.get("kind") == "Deployment" and doc["metadata"]["name"] == name:
            ctx.artifacts.write_text(f"evidence/rendered-{tag}-{path.name}", path.read_text())
            annotations = doc["spec"]["template"]["metadata"].get("annotations") or {}
            return str(annotations.get(naming.DEV_STORE_HASH, ""))
    raise HarnessError(f"`gtc op env render` wrote no Deployment {name} under {out}")


def reconcile_changed(ctx: ScenarioContext, backend: PodBackend, revision_id: str) -> None:
    """`gtc op env reconcile` (the track runs the product's reconcile); checks that it
    configured the worker Deployment (its pod template changed: the pod rolls)."""
    result = backend.reconcile(ctx, ENV_ID)
    name = naming.worker_name(revision_id)
    rows = [o for o in result.get("objects", []) if o.get("name") == name]
    actions = [str(o.get("action")) for o in rows if o.get("kind") == "Deployment"]
    ctx.check(
        f"reconcile configured Deployment {name}",
        actions == ["configured"],
        f"{name}: {actions or 'not in the result'}; {result.get('changed')} object(s) changed",
        evidence={"reconcile-fix.json": result},
    )


def wait_staged(ctx: ScenarioContext, worker: PodWorker, want: str, name: str) -> None:
    """Until the worker pod now running is Ready with a staged dev-store hashing to `want`
    (a rolled pod): the check `name`, failing with what the pod has after the deadline."""
    seen = [""]

    def rolled() -> bool | None:
        try:
            seen[0] = staged_hash(worker)
            return True if seen[0] == want and worker.ready() else None
        except HarnessError:
            return None

    try:
        waits.Poll(
            what="the worker pod with the new dev-store to be Ready",
            attempt=rolled,
            timing=waits.Timing(timeout=ROLL_DEADLINE_S, interval=0.5),
            status=lambda: f"staged {seen[0][:12]}…, want {want[:12]}…",
        ).run()
    except HarnessError:
        ctx.fail(
            name,
            f"the running pod's staged dev-store hashes to {seen[0][:12]}…, not {want[:12]}… "
            f"(the pod was not replaced)",
            evidence=common.worker_evidence(worker, "worker"),
        )
    ctx.check(name, True, f"staged dev-store {want[:12]}… = the authored one; Ready")
