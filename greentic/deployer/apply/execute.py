"""Run an `env apply` plan step by step through the same domain verbs the CLI uses.

Each step is its own locked store mutation, so a failure leaves every completed step in
place and a re-run of the same manifest replays them as no-ops. Progress lines go to the
`progress` callback (stderr in the CLI). Called by `greentic.deployer.apply.apply`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from greentic.deployer import deploy, env, env_packs, messaging, secrets, trust_root
from greentic.deployer.apply.plan import Plan, Step
from greentic.deployer.apply.resolve import Resolved, ResolvedBundle, ResolvedPack, ResolvedSecret
from greentic.errors import GreenticError
from greentic.spec.manifest import ManifestEndpoint
from greentic.store.envstore import Store

Progress = Callable[[str], None]


def _ensure(store: Store, r: Resolved, step: Step) -> None:
    env.init(store, env.EnvInitPayload(public_base_url=r.public_base_url))


def _host(store: Store, r: Resolved, step: Step) -> None:
    diff: dict[str, Any] = step.data
    with store.mutate(
        r.env_id, verb="env.apply.host-config", idempotency_key=step.idempotency_key
    ) as e:
        for name, value in diff.items():
            if name == "name":
                e.name = value
            else:
                setattr(e.host_config, name, value)


def _trust(store: Store, r: Resolved, step: Step) -> None:
    trust_root.bootstrap(store, trust_root.TrustRootBootstrapPayload(environment_id=r.env_id))


def _pack(store: Store, r: Resolved, step: Step) -> None:
    rp: ResolvedPack = step.data
    env_packs.bind_staged(
        store,
        r.env_id,
        slot=rp.slot,
        kind=rp.kind,
        pack_ref=rp.pack_ref,
        staged=rp.answers,
        verb="env.apply.pack-binding",
        idempotency_key=step.idempotency_key,
    )


def _secret(store: Store, r: Resolved, step: Step) -> None:
    s: ResolvedSecret = step.data
    assert s.value is not None
    secrets.put(
        store,
        secrets.SecretPutPayload.model_validate(
            {"environment_id": r.env_id, "path": s.path, "value": s.value.reveal()}
        ),
    )


def _update_bundle(store: Store, r: Resolved, step: Step) -> None:
    rb: ResolvedBundle = step.data
    with store.mutate(
        r.env_id, verb="env.apply.update-bundle", idempotency_key=step.idempotency_key
    ) as e:
        for dep in e.bundles:
            if dep.bundle_id == rb.bundle_id and dep.customer_id == rb.customer_id:
                assert rb.route_binding is not None
                dep.route_binding = rb.route_binding


def _deploy(store: Store, r: Resolved, step: Step) -> None:
    rb: ResolvedBundle = step.data
    deploy.run(
        store,
        deploy.DeployPayload(
            environment_id=r.env_id,
            bundle_id=rb.bundle_id,
            bundle_path=str(rb.path) if rb.path else None,
            bundle_source_uri=rb.source_uri,
            bundle_digest=rb.digest,  # re-hashed at run time: a changed file is a conflict
            customer_id=rb.customer_given,
            route_binding=rb.route_binding,
        ),
    )


def _endpoint(store: Store, r: Resolved, step: Step) -> None:
    ep: ManifestEndpoint = step.data
    messaging.add(
        store,
        messaging.EndpointAddPayload(
            environment_id=r.env_id,
            name=ep.name,
            provider_type=ep.provider_type,
            secret_refs=ep.secret_refs,
            idempotency_key=step.idempotency_key,
        ),
    )


def _link(store: Store, r: Resolved, step: Step) -> None:
    ep, link = step.data
    messaging.link_bundle(
        store,
        messaging.LinkBundlePayload(
            environment_id=r.env_id,
            name=ep.name,
            bundle_id=link,
            idempotency_key=step.idempotency_key,
        ),
    )


RUNNERS: dict[str, Callable[[Store, Resolved, Step], None]] = {
    "ensure-environment": _ensure,
    "update-host-config": _host,
    "bootstrap-trust-root": _trust,
    "add-pack-binding": _pack,
    "update-pack-binding": _pack,
    "put-secret": _secret,
    "update-bundle": _update_bundle,
    "deploy-bundle": _deploy,
    "add-endpoint": _endpoint,
    "link-endpoint": _link,
}


def execute(store: Store, plan: Plan, r: Resolved, *, progress: Progress) -> None:
    """Run the plan's non-no-op steps in order; on failure say what ran and re-raise."""
    total = len(plan.steps)
    for i, step in enumerate(plan.steps, start=1):
        if step.action == "no-op":
            continue
        progress(f"[{i}/{total}] {step.kind} {step.key} {step.action}…")
        try:
            RUNNERS[step.kind](store, r, step)
        except GreenticError:
            left = sum(1 for s in plan.steps[i:] if s.action != "no-op")
            progress(
                f"apply: step {i}/{total} `{step.kind} {step.key}` failed; {left} step(s) not "
                "attempted. Fix the cause and re-run the same apply — completed steps replay "
                "as no-ops."
            )
            raise
