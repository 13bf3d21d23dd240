"""The digest-mismatch steps shared by `digest-mismatch` and `repro-crashloop-digest`.

Routing a revision whose source serves bytes other than the pinned ones (`tamper`), and the
checks of the boot that refuses them: it fails closed (exit ≠ 0, /healthz never answered; on
a `restarts` track a crash loop, never Ready), and says exactly why on stderr (and in the
crashed container's logs where the track keeps them). Used by scenarios/*.py only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.context import ScenarioContext
from harness.distributor import Distributor
from harness.op import Gtc
from harness.tracks import Capability, RunningWorker
from scenarios import _common as common
from scenarios import _pods as pods

REFUSAL = (
    "pulled bundle digest `{pulled}` does not match revision `{revision}`'s pinned "
    "`{pinned}`; refusing to serve unpinned bytes"
)
DEADLINE_S = 20.0


@dataclass(frozen=True)
class Tampered:
    """A routed revision whose source serves wrong bytes, and the refusal its boot must print."""

    target: common.Authored
    name: str  # the file name the distributor serves (tampered)
    pulled: str  # sha256 of what the distributor serves now
    refusal: str


def route_tampered(
    ctx: ScenarioContext,
    cli: Gtc,
    distributor: Distributor,
    *,
    env_id: str,
    deployment_id: str,
    bundle: Path,
) -> Tampered:
    """Stage, warm and route `bundle` (published on `distributor`) at 100%, check what was
    authored, then make the distributor serve it with one byte flipped."""
    target = common.stage_pullable(
        ctx,
        cli,
        env_id=env_id,
        deployment_id=deployment_id,
        bundle_path=bundle,
        source_uri=ctx.backend.bundle_uri_for(distributor, bundle.name),
    )
    common.check_authored(ctx, target)
    distributor.tamper(bundle.name)
    served = distributor.served_bytes(bundle.name)
    assert served is not None
    pulled = common.sha256_of(served)
    refusal = REFUSAL.format(
        pulled=pulled, revision=target.revision_id, pinned=target.bundle_digest
    )
    return Tampered(target, bundle.name, pulled, refusal)


def expect_fails_closed(
    ctx: ScenarioContext, worker: RunningWorker, *, restarts: int, loop_deadline_s: float
) -> None:
    """What the operator sees: the boot exits non-zero and never answers /healthz; where the
    track restarts a refusing worker, it is restarted with back-off and never Ready."""
    common.expect_refused_boot(ctx, worker, DEADLINE_S)
    if ctx.can(Capability.RESTARTS):  # restarted with back-off, never Ready: a crash loop
        pods.expect_crash_loop(ctx, worker, restarts=restarts, deadline_s=loop_deadline_s)


def expect_refusal(
    ctx: ScenarioContext, worker: RunningWorker, distributor: Distributor, tampered: Tampered
) -> None:
    """Why: the exact refusal on stderr (and in the crashed container's logs), after the
    tampered bytes were really pulled; no serving banner."""
    common.expect_text(ctx, "exact digest refusal on stderr", worker.stderr(), tampered.refusal)
    if ctx.can(Capability.PREVIOUS_LOGS):
        previous = pods.pod_worker(ctx, worker).previous_logs()
        common.expect_text(
            ctx, "exact refusal in the crashed container's logs", previous, tampered.refusal
        )
    hits = distributor.hits(tampered.name)
    ctx.check(
        "the tampered bytes were really pulled",
        hits >= 1,
        f"{hits} GET of {tampered.name}",
    )
    common.expect_no_match(ctx, "no serving banner", worker.stdout(), common.SERVING_BANNER)
