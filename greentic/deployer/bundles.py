"""`bundles add`: a bundle deployment — the routing target revisions are staged under.

Needs the operator key in the env's trust root (upstream's rule). `customer_id` defaults to
`local-dev` on `local` and is required elsewhere; `(bundle_id, customer_id)` is unique. The
route binding defaults to every path (`path_prefixes: ["/"]`). Called by the CLI and deploy.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from greentic.deployer.common import LOCAL, EnvPayload
from greentic.deployer.trust_root import require_operator_trusted
from greentic.errors import Conflict, InvalidArgument
from greentic.spec.base import now_rfc3339
from greentic.spec.environment import BundleDeployment, Environment, RouteBinding
from greentic.store import ids
from greentic.store.envstore import Store

LOCAL_CUSTOMER = "local-dev"


def default_route() -> RouteBinding:
    return RouteBinding(path_prefixes=["/"])


def check_route(route: RouteBinding) -> RouteBinding:
    """A binding must select something: at least one host or path prefix."""
    if not route.hosts and not route.path_prefixes:
        raise ValueError("route_binding needs at least one host or path prefix")
    return route


class BundleAddPayload(EnvPayload):
    """`{environment_id, bundle_id, customer_id?, route_binding?, idempotency_key?}`."""

    bundle_id: str = Field(min_length=1)
    customer_id: str | None = None
    route_binding: RouteBinding = Field(default_factory=default_route)
    idempotency_key: str | None = None

    @field_validator("route_binding")
    @classmethod
    def _route(cls, v: RouteBinding) -> RouteBinding:
        return check_route(v)

    @model_validator(mode="after")
    def _customer(self) -> BundleAddPayload:
        if self.customer_id is not None and not self.customer_id.strip():
            raise ValueError("customer_id must not be empty")
        return self


def resolve_customer_id(env_id: str, customer_id: str | None) -> str:
    """`local-dev` on `local`; required for every other env (the billing principal)."""
    if customer_id is not None:
        if not customer_id.strip():
            raise InvalidArgument("customer_id must not be empty")
        return customer_id
    if env_id == LOCAL:
        return LOCAL_CUSTOMER
    raise InvalidArgument(
        f"customer_id is required for non-local env `{env_id}` (the billing principal; P6)",
        hint="pass customer_id=<id>",
    )


def find(env: Environment, bundle_id: str, customer_id: str) -> BundleDeployment | None:
    return next(
        (b for b in env.bundles if b.bundle_id == bundle_id and b.customer_id == customer_id),
        None,
    )


def summary(env_id: str, dep: BundleDeployment) -> dict[str, Any]:
    """upstream's BundleSummary."""
    return {
        "environment_id": env_id,
        "bundle_id": dep.bundle_id,
        "deployment_id": dep.deployment_id,
        "customer_id": dep.customer_id,
        "status": dep.status,
        "current_revision_count": len(dep.current_revisions),
        "hosts": list(dep.route_binding.hosts),
    }


def add(store: Store, p: BundleAddPayload) -> dict[str, Any]:
    """Register a new deployment (fresh ULID, status active); a duplicate is a conflict."""
    env_id = p.environment_id
    customer = resolve_customer_id(env_id, p.customer_id)
    store.load(env_id)
    require_operator_trusted(store, env_id)
    with store.mutate(env_id, verb="bundles.add", idempotency_key=p.idempotency_key) as env:
        if find(env, p.bundle_id, customer) is not None:
            raise Conflict(
                f"bundle `{p.bundle_id}` for customer `{customer}` already deployed in env "
                f"`{env_id}`"
            )
        dep = BundleDeployment(
            deployment_id=ids.new_ulid(),
            env_id=env_id,
            bundle_id=p.bundle_id,
            customer_id=customer,
            route_binding=p.route_binding,
            created_at=now_rfc3339(),
        )
        env.bundles.append(dep)
    return summary(env_id, dep)
