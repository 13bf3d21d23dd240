"""`deploy`: bundles add (when new) → revisions stage → warm → traffic at 10000 bps, in one.

Converges: when the deployment's split already routes 100% to a revision with the same
digest and source uri, nothing is staged and the earlier outcome is returned
(`reused_deployment: true`). The traffic key is `deploy:<deployment>:<revision>`. A first
deploy whose stage fails removes the deployment it just added. Used by the CLI and by env
apply's deploy-bundle step.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from greentic.deployer import bundles, revisions, traffic
from greentic.deployer.common import EnvPayload
from greentic.errors import Conflict, GreenticError, InvalidArgument, NotFound
from greentic.spec.base import check_digest
from greentic.spec.environment import BundleDeployment, Environment, Revision, RouteBinding
from greentic.store.envstore import Store

FULL = 10_000


class DeployPayload(EnvPayload):
    """`{environment_id, bundle_id?, bundle_path? | bundle_source_uri + bundle_digest,
    customer_id?, route_binding?, idempotency_key?}`."""

    bundle_id: str | None = Field(default=None, min_length=1)
    bundle_path: str | None = None
    bundle_source_uri: str | None = None
    bundle_digest: str | None = None
    customer_id: str | None = None
    route_binding: RouteBinding | None = None
    idempotency_key: str | None = None

    @field_validator("bundle_source_uri")
    @classmethod
    def _uri(cls, v: str | None) -> str | None:
        return revisions.check_source_uri(v) if v is not None else None

    @field_validator("bundle_digest")
    @classmethod
    def _digest(cls, v: str | None) -> str | None:
        return check_digest(v) if v is not None else None

    @field_validator("route_binding")
    @classmethod
    def _route(cls, v: RouteBinding | None) -> RouteBinding | None:
        return bundles.check_route(v) if v is not None else None


def converged_revision(
    env: Environment, dep: BundleDeployment, pinned: revisions.Pinned
) -> Revision | None:
    """The revision already carrying 100% of `dep` with the same pins, if any (pure)."""
    split = env.split(dep.deployment_id)
    if split is None or len(split.entries) != 1 or split.entries[0].weight_bps != FULL:
        return None
    rev = env.revision(split.entries[0].revision_id)
    if rev is None or rev.lifecycle != "ready":
        return None
    if (rev.bundle_digest, rev.bundle_source_uri) != (pinned.digest, pinned.source_uri):
        return None
    return rev


def result(
    env_id: str, dep: BundleDeployment, rev: Revision, *, reused: bool, superseded: list[str]
) -> dict[str, Any]:
    """upstream's DeploySummary."""
    return {
        "environment_id": env_id,
        "bundle_id": dep.bundle_id,
        "deployment_id": dep.deployment_id,
        "revision_id": rev.revision_id,
        "bundle_digest": rev.bundle_digest,
        "reused_deployment": reused,
        "superseded_revisions": superseded,
        "traffic": "100% (10000 bps)",
        "status": "routed",
    }


def _forget_new_deployment(store: Store, env_id: str, deployment_id: str) -> None:
    """Undo the `bundles add` of a deploy whose stage failed (only while nothing uses it)."""
    with store.mutate(env_id, verb="deploy.rollback") as env:
        dep = env.deployment(deployment_id)
        if dep is None:
            return
        used = (
            any(r.deployment_id == deployment_id for r in env.revisions)
            or any(s.deployment_id == deployment_id for s in env.traffic_splits)
            or any(dep.bundle_id in ep.linked_bundles for ep in env.messaging_endpoints)
        )
        if not used:
            env.bundles.remove(dep)


def _bundle_id(store: Store, p: DeployPayload) -> str:
    """The bundle id to deploy, after checking the env exists and a bundle is given."""
    env_id = p.environment_id
    if not store.exists(env_id):
        store.paths(env_id)  # validates the id first
        raise NotFound(
            f"environment `{env_id}` not found — run `gtc op env init` (then "
            f"`gtc op trust-root bootstrap {env_id}`) before deploying"
        )
    if not p.bundle_path and not (p.bundle_source_uri and p.bundle_digest):
        raise InvalidArgument(
            "deploy requires a local `.gtbundle`: pass bundle_path=<PATH> (or "
            "bundle_source_uri=<URI> bundle_digest=sha256:<hex> for a URI-only revision)"
        )
    bundle_id = p.bundle_id or (Path(p.bundle_path).stem if p.bundle_path else None)
    if not bundle_id:
        raise InvalidArgument("deploy needs bundle_id (or a bundle_path to name it after)")
    return bundle_id


def _deployment(
    store: Store, p: DeployPayload, bundle_id: str, customer: str
) -> tuple[Environment, BundleDeployment, bool]:
    """The env and the bundle's deployment (added when new); True when it already existed."""
    env_id = p.environment_id
    env = store.load(env_id)
    dep = bundles.find(env, bundle_id, customer)
    if dep is not None:
        if p.route_binding is not None and p.route_binding != dep.route_binding:
            raise Conflict(
                f"deploy: route_binding differs from deployment `{dep.deployment_id}` of bundle "
                f"`{bundle_id}`",
                hint="change routing with bundles update (not supported yet) or redeploy under "
                "a new bundle_id",
            )
        return env, dep, True
    bundles.add(
        store,
        bundles.BundleAddPayload(
            environment_id=env_id,
            bundle_id=bundle_id,
            customer_id=p.customer_id,
            route_binding=p.route_binding or bundles.default_route(),
            idempotency_key=p.idempotency_key,
        ),
    )
    env = store.load(env_id)
    dep = bundles.find(env, bundle_id, customer)
    assert dep is not None
    return env, dep, False


def run(store: Store, p: DeployPayload, *, base_dir: Path | None = None) -> dict[str, Any]:
    """Deploy one bundle to 100% of its deployment's traffic."""
    env_id = p.environment_id
    bundle_id = _bundle_id(store, p)
    customer = bundles.resolve_customer_id(env_id, p.customer_id)
    pinned = revisions.pin(p.bundle_path, p.bundle_source_uri, p.bundle_digest, base_dir=base_dir)
    env, dep, reused = _deployment(store, p, bundle_id, customer)
    done = converged_revision(env, dep, pinned)
    if done is not None:
        return result(env_id, dep, done, reused=True, superseded=[])
    previous = env.split(dep.deployment_id)
    superseded = [e.revision_id for e in previous.entries] if previous else []
    try:
        rev = revisions.stage_pinned(store, env_id, dep.deployment_id, pinned)
    except Exception:
        if not reused:  # a failed first deploy leaves no empty deployment behind
            with contextlib.suppress(GreenticError, OSError):  # the stage error is the news
                _forget_new_deployment(store, env_id, dep.deployment_id)
        raise
    revisions.warm(
        store, revisions.RevisionRefPayload(environment_id=env_id, revision_id=rev.revision_id)
    )
    traffic.set_split(
        store,
        traffic.TrafficSetPayload(
            environment_id=env_id,
            deployment_id=dep.deployment_id,
            entries=[traffic.EntryPayload(revision_id=rev.revision_id, weight_bps=FULL)],
            idempotency_key=p.idempotency_key or f"deploy:{dep.deployment_id}:{rev.revision_id}",
        ),
    )
    rev = store.load(env_id).revision(rev.revision_id) or rev
    return result(env_id, dep, rev, reused=reused, superseded=superseded)
