"""Steps and checks the pod scenarios share (kind-serve, kind-pull, prune, digest-mismatch on
the docker and kind tracks): reconcile with object counts, workloads present or gone,
Ready, and the never-Ready restart loop of a refusing worker.

A pod track's backend adds two verbs to `WorkerBackend` (`PodBackend` below) and its workers
two methods (`PodWorker`); the docker backend has them, the kind backend gets them. Used by
scenarios/*.py only, next to scenarios/_common.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, cast

import httpx

from harness import waits
from harness.context import ScenarioContext
from harness.errors import HarnessError
from harness.tracks import RunningWorker, WorkerBackend
from scenarios import _common as common

HEALTHZ_TIMEOUT_S = 1.0


class PodBackend(WorkerBackend, Protocol):
    """A track whose workers are rendered pods."""

    def reconcile(self, ctx: ScenarioContext, env_id: str) -> dict[str, Any]:
        """Render and apply the env (`op env reconcile` or its docker sync); the result has
        `applied` and `pruned` counts."""
        ...

    def workloads(self, ctx: ScenarioContext, env_id: str) -> list[str]:
        """Names of the env's Deployments that have a running pod/container right now."""
        ...


class PodWorker(RunningWorker, Protocol):
    """A worker that is a pod: it can be restarted by its kubelet and be (not) Ready."""

    def restarts(self) -> int: ...

    def ready(self) -> bool: ...


def pod_backend(ctx: ScenarioContext) -> PodBackend:
    """The run's backend, which must be a pod track (docker or kind)."""
    backend = ctx.backend
    if not all(hasattr(backend, verb) for verb in ("reconcile", "workloads")):
        raise HarnessError(
            f"scenario `{ctx.name}` needs rendered pods; the `{ctx.track}` track has none"
            "\nHint: pass --track docker"
        )
    return cast(PodBackend, backend)


def pod_worker(ctx: ScenarioContext, worker: RunningWorker) -> PodWorker:
    if not all(hasattr(worker, m) for m in ("restarts", "ready")):
        raise HarnessError(f"the `{ctx.track}` track's worker is not a pod (no restarts/ready)")
    return cast(PodWorker, worker)


def reconcile(
    ctx: ScenarioContext, backend: PodBackend, env_id: str, *, applied: int, pruned: int
) -> dict[str, Any]:
    """Reconcile and check the counts (SPEC §6.3: 12 env-level objects + 2 per worker)."""
    result = backend.reconcile(ctx, env_id)
    got = (result.get("applied"), result.get("pruned"))
    ctx.check(
        f"reconcile: {applied} applied, {pruned} pruned",
        got == (applied, pruned),
        ", ".join(f"{o['kind']} {o['name']}" for o in result.get("objects", []))[:300]
        if got == (applied, pruned)
        else f"got {got[0]} applied, {got[1]} pruned",
        evidence={f"reconcile-{applied}-{pruned}.json": result},
    )
    return result


def expect_workloads(
    ctx: ScenarioContext,
    backend: PodBackend,
    env_id: str,
    *,
    present: Sequence[str],
    absent: Sequence[str] = (),
    deadline_s: float = 30.0,
) -> None:
    """Within the deadline, `present` Deployments run a container and `absent` ones none."""
    seen: list[list[str]] = [[]]

    def settled() -> bool | None:
        seen[0] = backend.workloads(ctx, env_id)
        ok = all(n in seen[0] for n in present) and not any(n in seen[0] for n in absent)
        return True if ok else None

    try:
        waits.Poll(
            what="the workloads to settle",
            attempt=settled,
            timing=waits.Timing(timeout=deadline_s, interval=0.2),
            status=lambda: f"running: {seen[0]}",
        ).run()
        ok = True
    except HarnessError:
        ok = False
    names = ", ".join(present) + (f"; gone: {', '.join(absent)}" if absent else "")
    ctx.check(
        f"running: {names}",
        ok,
        f"running now: {', '.join(seen[0]) or 'none'}",
        evidence={"workloads.json": seen[0]},
    )


def healthz(worker: RunningWorker) -> int | None:
    """GET /healthz once: its status code, or None when nothing answers."""
    try:
        with httpx.Client(timeout=HEALTHZ_TIMEOUT_S, trust_env=False) as client:
            return client.get(f"{worker.base_url}/healthz").status_code
    except (httpx.HTTPError, HarnessError):
        return None


def expect_healthz(ctx: ScenarioContext, worker: RunningWorker, deadline_s: float) -> None:
    """/healthz answers 200 (through the pod's published port or port-forward)."""
    url = f"{worker.base_url}/healthz"
    try:
        response = waits.until_http(
            url, watch=worker, timing=waits.Timing(timeout=deadline_s)
        ).status(200)
    except HarnessError as exc:
        ctx.fail("/healthz 200", str(exc), evidence=common.worker_evidence(worker, "worker"))
    ctx.check("/healthz 200", True, f"GET {url} → {response.text.strip()!r}")


def expect_ready(ctx: ScenarioContext, worker: RunningWorker) -> None:
    pod = pod_worker(ctx, worker)
    ctx.check("worker pod Ready", pod.ready(), "readiness probe GET /healthz passes")


def expect_restart_loop(
    ctx: ScenarioContext, worker: RunningWorker, *, restarts: int, deadline_s: float
) -> None:
    """The refusing worker is restarted with back-off at least `restarts` times and is never
    Ready meanwhile (its readiness and /healthz are polled throughout)."""
    pod = pod_worker(ctx, worker)
    ready_seen: list[str] = []
    codes: set[int] = set()

    def looped() -> bool | None:
        code = worker.exit_code()
        if code is not None:
            codes.add(code)
        if pod.ready():
            ready_seen.append("Ready")
        if healthz(worker) == 200:
            ready_seen.append("/healthz 200")
        return True if pod.restarts() >= restarts else None

    try:
        waits.Poll(
            what=f"{restarts} restarts of the worker",
            attempt=looped,
            timing=waits.Timing(timeout=deadline_s, interval=0.2),
            status=lambda: f"{pod.restarts()} restart(s), last exit {worker.exit_code()}",
        ).run()
    except HarnessError as exc:
        ctx.fail(
            f"restart loop: ≥ {restarts} restarts",
            str(exc),
            evidence=common.worker_evidence(worker, "worker"),
        )
    ctx.check(
        f"restart loop: {pod.restarts()} restarts with back-off",
        True,
        f"exit code(s) seen: {', '.join(map(str, sorted(codes))) or 'none'}",
    )
    ctx.check(
        "never Ready while it looped",
        not ready_seen,
        "readiness and /healthz never passed" if not ready_seen else f"saw {set(ready_seen)}",
    )
