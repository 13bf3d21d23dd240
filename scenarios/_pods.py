"""Steps and checks the pod scenarios share (kind-serve, kind-pull, prune, and digest-mismatch
where the track restarts a refusing worker): reconcile with object counts, workloads present
or gone, Ready, and the never-Ready crash loop of a refusing worker.

A scenario that uses these lists the capabilities in its `NEEDS` (or asks `ctx.can`), so the
runner only gets here on a track that has them; `pod_backend`/`pod_worker` then narrow the
types, and fail loudly if a backend claims a capability its objects do not implement.
Used by scenarios/*.py only, next to scenarios/_common.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from harness import waits
from harness.context import ScenarioContext
from harness.errors import HarnessError
from harness.tracks import Capability, PodBackend, PodWorker, RunningWorker
from scenarios import _common as common

HEALTHZ_TIMEOUT_S = 1.0
LOOP_POLL_S = 1.0  # each poll asks the track (kubectl on kind) for restarts and readiness


def pod_backend(ctx: ScenarioContext) -> PodBackend:
    """The run's backend as a `PodBackend` (the scenario needs `Capability.RECONCILE`)."""
    if not ctx.can(Capability.RECONCILE):
        raise HarnessError(
            f"scenario `{ctx.name}` reconciles rendered pods; the `{ctx.track}` track cannot"
            "\nHint: list Capability.RECONCILE in the scenario's NEEDS"
        )
    backend = ctx.backend
    if not isinstance(backend, PodBackend):
        raise common.lacks_methods(
            backend,
            Capability.RECONCILE,
            lacks="reconcile/workloads/worker",
            hint="implement harness.tracks.PodBackend",
        )
    return backend


def pod_worker(ctx: ScenarioContext, worker: RunningWorker) -> PodWorker:
    """`worker` as a `PodWorker` (the track has readiness/restarts, so its workers are pods)."""
    if not isinstance(worker, PodWorker):
        raise HarnessError(
            f"the `{ctx.track}` track declares pod capabilities but its worker "
            f"{type(worker).__name__} is no pod\nHint: implement harness.tracks.PodWorker"
        )
    return worker


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


def expect_ready(ctx: ScenarioContext, worker: PodWorker) -> None:
    ctx.check("worker pod Ready", worker.ready(), "readiness probe GET /healthz passes")


def expect_crash_loop(
    ctx: ScenarioContext, worker: RunningWorker, *, restarts: int, deadline_s: float
) -> None:
    """The refusing worker is restarted with back-off at least `restarts` times, is never
    Ready meanwhile (readiness and /healthz are polled throughout), and the track reports
    it as crash-looping (`CrashLoopBackOff` on kind)."""
    pod = pod_worker(ctx, worker)
    ready_seen: list[str] = []
    codes: set[int] = set()
    poll = waits.Timing(timeout=deadline_s, interval=LOOP_POLL_S)

    def looped() -> bool | None:
        code = pod.exit_code()
        if code is not None:
            codes.add(code)
        if pod.ready():
            ready_seen.append("Ready")
        if healthz(pod) == 200:
            ready_seen.append("/healthz 200")
        return True if pod.restarts() >= restarts else None

    try:
        waits.Poll(
            what=f"{restarts} restarts of the worker",
            attempt=looped,
            timing=poll,
            status=lambda: f"{pod.restarts()} restart(s), last exit {pod.exit_code()}",
        ).run()
        reason = pod.wait_crash_loop(deadline_s)
    except HarnessError as exc:
        ctx.fail(
            f"crash loop: ≥ {restarts} restarts",
            str(exc),
            evidence=common.worker_evidence(pod, "worker"),
        )
    ctx.check(
        f"worker crash-looping: {reason}",
        True,
        f"{pod.restarts()} restarts with back-off; "
        f"exit code(s) seen: {', '.join(map(str, sorted(codes))) or 'none'}",
    )
    ctx.check(
        "never Ready while it looped",
        not ready_seen,
        "readiness and /healthz never passed" if not ready_seen else f"saw {set(ready_seen)}",
    )
