"""Row 3: the worker restart-loops, never Ready, because its pod cannot reach the bundle source.

On Kubernetes the cause is the env's `gtc-default-deny` NetworkPolicy without the
`gtc-allow-worker-egress` allow. The docker track does not enforce NetworkPolicies
(docs/docker-track.md), so it cuts the network for real instead (`Capability.SERVICE_CUT`):
the bundle source's Service is deleted, its pod loses the network alias and the source's
name stops resolving from the worker pod — the source runs, the pod just cannot get there.
Symptom: restarted with back-off and never Ready; the worker's error names the source it
could not reach. Cause: the source saw no request from the worker (it is up, the pod has no
way to it). Fix: give the pod its way to the source back (docker: apply the Service again; a
cluster: restore `gtc-allow-worker-egress`), then let the pod restart. Recovered: the next
restart pulls, verifies and is Ready.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from harness import k8s_fixtures, waits
from harness.context import ScenarioContext, ScenarioResult
from harness.errors import HarnessError
from harness.tracks import Capability, PodWorker, RunScope
from scenarios import _common as common
from scenarios import _pods as pods
from scenarios import _repro as repro

NEEDS: tuple[Capability, ...] = (
    Capability.RECONCILE,
    Capability.RESTARTS,
    Capability.READINESS,
    Capability.SERVICE_CUT,
)

ROW = repro.Row(
    name="crashloop-egress",
    symptom="worker never Ready / restart loop, no revision served; the worker's error names "
    "the bundle source it could not reach",
    cause="the pod has no egress to the distributor/registry (`gtc-default-deny` without an "
    "allow; docker: the source's Service deleted, so its name does not resolve from the pod)",
    fix="allow the worker's egress to the source (`gtc-allow-worker-egress`; docker: apply the "
    "Service again), then let the pod restart",
)

ENV_ID = "local"
BUNDLE_ID = "webchat-bot"
FIXTURE = "webchat-bot.gtbundle"
BANNER = r"serving 1 revision\(s\) for env `local`"
LOOP_RESTARTS = 1
LOOP_DEADLINE_S = 40.0
READY_DEADLINE_S = 30.0  # the loop's back-off is capped at 10 s on docker


@runtime_checkable
class ServiceCut(Protocol):
    """A pod backend that can delete a Service and apply it again (`Capability.SERVICE_CUT`)."""

    def cut_service(self, scope: RunScope, name: str) -> None: ...

    def restore_service(self, scope: RunScope, name: str) -> None: ...


def service_cut(ctx: ScenarioContext) -> ServiceCut:
    backend = ctx.backend
    if not isinstance(backend, ServiceCut):
        raise common.lacks_methods(
            backend,
            Capability.SERVICE_CUT,
            lacks="cut_service/restore_service",
            hint="implement them (harness/docker/track.py)",
        )
    return backend


def run(ctx: ScenarioContext) -> ScenarioResult:
    backend = pods.pod_backend(ctx)
    cut = service_cut(ctx)
    cli = common.gtc(ctx)
    bundle = common.fixture(ctx, FIXTURE)
    source = k8s_fixtures.BUNDLE_SERVER
    ctx.step("prepare: the bundle server serves webchat-bot; env `local` routes it")
    distributor = backend.serve_bundles(ctx, ctx.work_dir / "distributor")
    distributor.publish(bundle)
    uri = backend.bundle_uri_for(distributor, bundle.name)
    common.create_env(ctx, cli, ENV_ID)
    common.add_routed_bundle(
        ctx, cli, env_id=ENV_ID, bundle_id=BUNDLE_ID, bundle_path=bundle, source_uri=uri
    )
    ctx.step(f"prepare: the worker pod loses its way to the source (Service {source} deleted)")
    cut.cut_service(ctx, source)

    repro.symptom(ctx, ROW.symptom)
    worker = pods.pod_worker(ctx, backend.start(ctx, ENV_ID, expect_exit=True))
    pods.expect_crash_loop(ctx, worker, restarts=LOOP_RESTARTS, deadline_s=LOOP_DEADLINE_S)
    common.expect_text(
        ctx, "the worker's error names the source it could not reach", worker.stderr(),
        f"fetching {uri}: cannot connect",
    )  # fmt: skip
    common.expect_no_match(ctx, "no serving banner", worker.stdout(), common.SERVING_BANNER)

    repro.cause(ctx, "the pod has no network path to the bundle source")
    hits = distributor.hits(bundle.name)
    ctx.check("the source got no request from the worker", hits == 0, f"{hits} GET(s)")
    common.expect_text(
        ctx, "every attempt failed: the source's name does not resolve from the pod",
        worker.stderr(),
        "cannot connect ([Errno -2] Name or service not known) (gave up after 4 attempts)",
    )  # fmt: skip

    repro.fix(
        ctx,
        f"restore the worker's egress to the source (apply Service {source} again); "
        "the pod's next restart pulls",
        lambda: cut.restore_service(ctx, source),
    )

    repro.recovered(ctx, "the restarted worker pulls, is Ready and serves")
    expect_ready(ctx, worker)
    common.expect_banner(ctx, worker, BANNER, READY_DEADLINE_S)
    hits = distributor.hits(bundle.name)
    ctx.check("the source served the bundle to the worker", hits >= 1, f"{hits} GET(s)")
    ctx.notes.append(f"restart loop until Service {source} was back; then Ready")
    return ctx.result()


def expect_ready(ctx: ScenarioContext, worker: PodWorker) -> None:
    """Within READY_DEADLINE_S the restart loop's next attempt is Ready."""
    try:
        waits.Poll(
            what="the worker pod to become Ready",
            attempt=lambda: True if worker.ready() else None,
            timing=waits.Timing(timeout=READY_DEADLINE_S, interval=0.5),
        ).run()
    except HarnessError as exc:
        ctx.fail("worker pod Ready", str(exc), evidence=common.worker_evidence(worker, "worker"))
    ctx.check("worker pod Ready", True, f"after {worker.restarts()} restart(s)")
