"""The env's own NetworkPolicies are what let the worker pod pull its bundle (enforced only).

The env's `gtc-default-deny` blocks every pod's traffic; the worker pulls at boot through the
product's `gtc-allow-worker-egress` (rendered because a routed revision has a bundle source).
The harness's fixtures add `gtc-fixture-allow-egress` for the env's pods, which would allow
the same pull and hide a missing or broken product allow — so this run drops it first, then
checks the worker pulled and serves with only the env's policies (plus the fixture's ingress
allow, which opens the source, not the worker). Only meaningful where NetworkPolicies are
enforced: it NEEDS `Capability.NETWORK_POLICY`, which a cluster has only when its probe saw a
deny-all drop traffic (harness.kube.netpol); elsewhere it is skipped with that reason.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from harness.context import ScenarioContext, ScenarioResult
from harness.tracks import Capability, RunScope
from scenarios import _common as common
from scenarios import _pods as pods
from scenarios import _pull as pull

NEEDS = (Capability.RECONCILE, Capability.READINESS, Capability.NETWORK_POLICY)
SOURCES = {
    "http": common.PullSource(
        "prepare: serve the bundle from the in-network busybox httpd", "in-network httpd"
    ),
}
FIXTURE_EGRESS = "gtc-fixture-allow-egress"  # harness.k8s_fixtures.fixture_policies
ENV_POLICIES = ("gtc-allow-dns", "gtc-allow-worker-egress", "gtc-default-deny")
DEADLINE_S = 60.0


@runtime_checkable
class PolicyControl(Protocol):
    """A pod backend whose namespace's NetworkPolicies can be listed and one dropped."""

    def network_policies(self, scope: RunScope) -> list[str]: ...

    def drop_network_policy(self, scope: RunScope, name: str) -> None: ...


def policy_control(ctx: ScenarioContext) -> PolicyControl:
    backend = ctx.backend
    if not isinstance(backend, PolicyControl):
        raise common.lacks_methods(
            backend,
            Capability.NETWORK_POLICY,
            lacks="network_policies/drop_network_policy",
            hint="implement them (harness/kube/track.py)",
        )
    return backend


def run(ctx: ScenarioContext) -> ScenarioResult:
    backend = pods.pod_backend(ctx)
    policies = policy_control(ctx)
    published, authored = pull.publish_and_author(
        ctx, SOURCES, "prepare: author env `local` pulling {source_uri}"
    )
    ctx.step(f"prepare: drop the harness's {FIXTURE_EGRESS} (it would allow the pull too)")
    policies.drop_network_policy(ctx, FIXTURE_EGRESS)

    ctx.step("act: render the env and run its pods; the worker pulls at boot")
    worker = backend.start(ctx, pull.ENV_ID, env=published.worker_env)

    present = policies.network_policies(ctx)
    ctx.check(
        "only the env's own policies open the worker's egress",
        FIXTURE_EGRESS not in present and all(p in present for p in ENV_POLICIES),
        ", ".join(present),
    )
    common.expect_banner(ctx, worker, pull.BANNER, DEADLINE_S)
    pods.expect_ready(ctx, worker)
    pull.expect_serving_pulled(ctx, worker, published)
    ctx.notes.append(
        f"revision {authored.revision_id} pulled through gtc-allow-worker-egress "
        f"({FIXTURE_EGRESS} dropped) on a cluster that enforces NetworkPolicies"
    )
    return ctx.result()
