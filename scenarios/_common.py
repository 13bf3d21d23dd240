"""Steps and checks every scenario shares, so all tracks run the same assertions.

Authoring goes through the real `gtc op` verbs (seeds/001 §04); checks talk to a
`RunningWorker` only through its protocol and record evidence before they decide, via
`ctx.check`. Used by scenarios/*.py; never by harness/ (scenarios sit above it).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harness import waits
from harness.context import ScenarioContext
from harness.errors import HarnessError
from harness.op import Gtc, operator_env
from harness.tracks import INSECURE_ENV, Capability, RunningWorker

SERVING_BANNER = r"serving \d+ revision\(s\) for env `[^`]+`|no bundles attached to env"
HTTP_TIMEOUT_S = 5.0


def lacks_methods(
    backend: object, capability: Capability, *, lacks: str, hint: str
) -> HarnessError:
    """The error for a backend that declares `capability` without the methods it promises."""
    return HarnessError(
        f"{type(backend).__name__} declares `{capability}` but lacks {lacks}\nHint: {hint}"
    )


# -- prepare -----------------------------------------------------------------------------
def fixture(ctx: ScenarioContext, file_name: str) -> Path:
    """A built fixture bundle, found relative to the repo (works from a fresh clone)."""
    path = ctx.fixtures / file_name
    if not path.is_file():
        raise HarnessError(
            f"fixture bundle {path} is missing\nHint: build the fixtures with `make fixtures`"
        )
    return path


def sha256_of(path_or_bytes: Path | bytes) -> str:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def gtc(ctx: ScenarioContext) -> Gtc:
    """The `gtc` CLI on this run's authoring store, with a private operator key."""
    return Gtc(ctx.store_root, env=operator_env(ctx.work_dir), artifacts=ctx.artifacts)


def answers(ctx: ScenarioContext, name: str, payload: dict[str, Any]) -> Path:
    """Write a verb's payload as an answers file (kept in the artifacts for replay)."""
    return ctx.artifacts.write_json(f"answers/{name}.json", payload)


def field(result: Any, key: str) -> str:
    """`key` from a verb's result (top level or one object down), as upstream nests it."""
    if isinstance(result, dict):
        if isinstance(result.get(key), str):
            return str(result[key])
        for value in result.values():
            if isinstance(value, dict) and isinstance(value.get(key), str):
                return str(value[key])
    raise HarnessError(f"the verb's result has no `{key}`: {json.dumps(result)[:300]}")


@dataclass(frozen=True)
class Authored:
    """What authoring recorded for one pullable revision."""

    env_id: str
    deployment_id: str
    revision_id: str
    bundle_digest: str
    source_uri: str


def create_env(ctx: ScenarioContext, cli: Gtc, env_id: str) -> None:
    """`op env create <id>` then `op trust-root bootstrap <id>` (seeds/001 §04 step 1)."""
    cli.op("env", "create", env_id, "--name", env_id)
    cli.op("trust-root", "bootstrap", env_id)


def add_bundle(ctx: ScenarioContext, cli: Gtc, env_id: str, bundle_id: str) -> str:
    """`op bundles add` routing every path (`path_prefixes ["/"]`); the deployment_id."""
    payload = {
        "environment_id": env_id,
        "bundle_id": bundle_id,
        "route_binding": {"path_prefixes": ["/"]},
    }
    return field(
        cli.op("bundles", "add", answers=answers(ctx, f"bundles-add-{bundle_id}", payload)),
        "deployment_id",
    )


def stage_pullable(
    ctx: ScenarioContext,
    cli: Gtc,
    *,
    env_id: str,
    deployment_id: str,
    bundle_path: Path,
    source_uri: str,
) -> Authored:
    """`op revisions stage` (pins the file's sha256, records the source uri), `warm`, and
    `traffic set` 100% — only routed revisions are pulled (seeds/001 §04 steps 3–4)."""
    staged = cli.op(
        "revisions",
        "stage",
        f"environment_id={env_id}",
        f"deployment_id={deployment_id}",
        f"bundle_path={bundle_path}",
        f"bundle_source_uri={source_uri}",
    )
    revision_id = field(staged, "revision_id")
    cli.op("revisions", "warm", f"environment_id={env_id}", f"revision_id={revision_id}")
    split = {
        "environment_id": env_id,
        "deployment_id": deployment_id,
        "entries": [{"revision_id": revision_id, "weight_bps": 10_000}],
    }
    cli.op("traffic", "set", answers=answers(ctx, f"traffic-{revision_id}", split))
    return Authored(env_id, deployment_id, revision_id, sha256_of(bundle_path), source_uri)


def check_authored(ctx: ScenarioContext, authored: Authored) -> None:
    """The authored environment.json pins the digest and source, and routes 100%."""
    doc = json.loads((ctx.store_root / authored.env_id / "environment.json").read_text())
    revisions: list[dict[str, Any]] = doc.get("revisions", [])
    rev = next((r for r in revisions if r["revision_id"] == authored.revision_id), {})
    routed = any(
        e["revision_id"] == authored.revision_id and e["weight_bps"] == 10_000
        for s in doc.get("traffic_splits", [])
        for e in s.get("entries", [])
    )
    ok = (
        rev.get("bundle_digest") == authored.bundle_digest
        and rev.get("bundle_source_uri") == authored.source_uri
        and rev.get("lifecycle") == "ready"
        and routed
    )
    ctx.check(
        f"store authored with gtc op: revision {authored.revision_id} ready, 100% routed",
        ok,
        f"pins {authored.bundle_digest[:19]}… from {authored.source_uri}"
        if ok
        else f"environment.json revision: {json.dumps(rev)[:300]} routed={routed}",
        evidence={"authored-environment.json": doc},
    )


def add_routed_bundle(
    ctx: ScenarioContext,
    cli: Gtc,
    *,
    env_id: str,
    bundle_id: str,
    bundle_path: Path,
    source_uri: str,
) -> Authored:
    """`op bundles add`, then stage, warm and route its bundle at 100%, and check what was
    authored (seeds/001 §04 steps 2–4): a revision the next worker boot pulls."""
    deployment_id = add_bundle(ctx, cli, env_id, bundle_id)
    authored = stage_pullable(
        ctx,
        cli,
        env_id=env_id,
        deployment_id=deployment_id,
        bundle_path=bundle_path,
        source_uri=source_uri,
    )
    check_authored(ctx, authored)
    return authored


# -- prepare: a bundle for the worker to pull -------------------------------------------
@dataclass(frozen=True)
class PullSource:
    """How a scenario words one variant's bundle source: its prepare step and its name."""

    step: str
    name: str


@dataclass(frozen=True)
class Published:
    """A bundle served for a worker to pull: the uri it pulls, the env that lets it (an
    insecure registry), and the source's own count of pulls (`unit`s of the bundle)."""

    source: PullSource
    source_uri: str
    worker_env: dict[str, str]
    pulls: Callable[[], int]
    unit: str


def publish_pullable(
    ctx: ScenarioContext,
    cli: Gtc,
    bundle: Path,
    *,
    repository: str,
    sources: Mapping[str, PullSource],
) -> Published:
    """Variant `oci`: start the track's registry, `gtc bundle push` the bundle there as
    `repository` (plain HTTP) and list it as insecure for the worker. Otherwise: serve the
    bundle from the track's distributor. Either way the backend says the worker's uri."""
    backend = ctx.backend
    if ctx.variant == "oci":
        source = sources["oci"]
        ctx.step(source.step)
        registry = backend.registry(ctx)
        cli.run("bundle", "push", str(bundle), registry.ref(repository), "--insecure")
        return Published(
            source,
            backend.bundle_uri_for(registry, repository),
            {INSECURE_ENV: backend.authority_for(registry)},
            lambda: registry.pulls(repository),
            "blob GET",
        )
    source = sources["http"]
    ctx.step(source.step)
    distributor = backend.serve_bundles(ctx, ctx.work_dir / "distributor")
    distributor.publish(bundle)
    return Published(
        source,
        backend.bundle_uri_for(distributor, bundle.name),
        {},
        lambda: distributor.hits(bundle.name),
        "GET",
    )


# -- checks ------------------------------------------------------------------------------
def worker_evidence(worker: RunningWorker, tag: str) -> dict[str, str]:
    return {f"{tag}.stdout.txt": worker.stdout(), f"{tag}.stderr.txt": worker.stderr()}


def expect_banner(
    ctx: ScenarioContext, worker: RunningWorker, regex: str, deadline_s: float
) -> str:
    """The worker prints the banner within the deadline; the banner line."""
    try:
        match = worker.wait_banner(regex, deadline_s)
    except HarnessError as exc:
        ctx.fail(f"banner /{regex}/", str(exc), evidence=worker_evidence(worker, "worker"))
    end = match.string.find("\n", match.start())
    line = match.string[match.start() : None if end < 0 else end].strip()
    ctx.check(f"banner: {line}", True)  # the whole line, exactly as the worker printed it
    return line


def expect_status(ctx: ScenarioContext, worker: RunningWorker, expected: dict[str, Any]) -> None:
    """GET /status answers 200 and carries the expected fields."""
    url = f"{worker.base_url}/status"
    try:
        response = waits.until_http(
            url, watch=worker, timing=waits.Timing(timeout=HTTP_TIMEOUT_S)
        ).status(200)
        doc = response.json()
    except (HarnessError, ValueError) as exc:
        ctx.fail("/status", str(exc), evidence=worker_evidence(worker, "worker"))
    wrong = {k: doc.get(k) for k, v in expected.items() if doc.get(k) != v}
    shown = ", ".join(f"{k} {doc.get(k)}" for k in expected if k not in ("schema", "env_id"))
    ctx.check(
        f"/status: {shown}",
        not wrong,
        f"GET {url}" if not wrong else f"expected {expected}, got {doc}",
        evidence={"status.json": doc},
    )


def expect_reply(
    ctx: ScenarioContext,
    worker: RunningWorker,
    *,
    path: str,
    body: dict[str, Any],
    reply_text: str,
) -> None:
    """POST `body` to `path` answers 200 with a reply whose payload text is `reply_text`."""
    url = f"{worker.base_url}{path}"
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT_S, trust_env=False) as client:
            response = client.post(url, json=body)
    except httpx.HTTPError as exc:
        ctx.fail(f"POST {path}", f"{type(exc).__name__}: {exc}")
    try:
        replies = response.json()
    except ValueError:
        replies = response.text
    texts = [
        r.get("payload", {}).get("text")
        for r in (replies if isinstance(replies, list) else [])
        if isinstance(r, dict) and isinstance(r.get("payload"), dict)
    ]
    ok = response.status_code == 200 and reply_text in texts
    ctx.check(
        f"POST {path} {json.dumps(body)} → {reply_text!r}",
        ok,
        f"HTTP {response.status_code}" + ("" if ok else f", body {response.text[:300]!r}"),
        evidence={"reply.json": {"status": response.status_code, "body": replies}},
    )


def expect_refused_boot(ctx: ScenarioContext, worker: RunningWorker, deadline_s: float) -> int:
    """The worker exits non-zero on its own, and /healthz never answered 200 meanwhile."""
    answered: list[int] = []

    def probe() -> None:
        try:
            with httpx.Client(timeout=0.5, trust_env=False) as client:
                answered.append(client.get(f"{worker.base_url}/healthz").status_code)
        except httpx.HTTPError:
            pass

    try:
        code = waits.until_exit(worker, timing=waits.Timing(timeout=deadline_s), each=probe).wait()
    except HarnessError as exc:
        ctx.fail("boot fails closed", str(exc), evidence=worker_evidence(worker, "worker"))
    ctx.check(
        f"boot fails closed: exit code {code}",
        code != 0,
        "exited non-zero" if code != 0 else "exited 0 — it should refuse",
        evidence=worker_evidence(worker, "worker"),
    )
    ctx.check(
        "/healthz never answered while it booted",
        200 not in answered,
        f"{len(answered)} probe(s) answered: {answered}" if answered else "no probe answered",
    )
    return code


def expect_pulled(ctx: ScenarioContext, published: Published) -> None:
    """The served bytes really came from the published source: it saw at least one pull."""
    count = published.pulls()
    ctx.check(
        f"pulled from the {published.source.name} ({count} {published.unit})",
        count >= 1,
        published.source_uri,
    )


def expect_text(ctx: ScenarioContext, name: str, haystack: str, needle: str) -> None:
    """`needle` appears verbatim in `haystack` (a stream of the worker)."""
    ctx.check(
        name,
        needle in haystack,
        needle if needle in haystack else f"not found; got: {waits.tail(haystack, 400)}",
    )


def expect_no_match(ctx: ScenarioContext, name: str, haystack: str, regex: str) -> None:
    """No line of `haystack` matches `regex` (e.g. no serving banner was ever printed)."""
    found = re.search(regex, haystack)
    ctx.check(
        name, found is None, "none printed" if found is None else f"printed {found.group(0)!r}"
    )


def expect_absent(ctx: ScenarioContext, worker: RunningWorker, rel: str) -> None:
    """`<env dir>/<rel>` does not exist in the worker's own store."""
    present = worker.env_file(rel) is not None
    ctx.check(f"no {rel} left behind", not present, "absent" if not present else "still present")


def expect_unchanged(ctx: ScenarioContext, worker: RunningWorker, rel: str, before: bytes) -> None:
    """`<env dir>/<rel>` still holds exactly the bytes it held before."""
    now = worker.env_file(rel)
    ok = now == before
    ctx.check(
        f"earlier {rel} intact",
        ok,
        f"{sha256_of(before)[:19]}… unchanged" if ok else ("gone" if now is None else "changed"),
    )
