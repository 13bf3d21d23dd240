"""environment.json (`greentic.environment.v1`) and its nested documents (SPEC §2.1).

Pure data plus `Environment.check()`, the cross-document rules (weights, links, ownership)
that every store write runs before anything reaches disk.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from greentic.spec import rules
from greentic.spec.base import Model
from greentic.spec.rules import MAX_BPS as MAX_BPS  # re-exported: callers import it from here
from greentic.spec.rules import SLOTS as SLOTS

Lifecycle = Literal["staged", "warming", "ready", "draining", "failed", "archived"]
ROUTABLE: frozenset[str] = frozenset({"warming", "ready", "draining"})
# Field rules live in greentic.spec.rules, attached as AfterValidators: the compiled validators
# (greentic.spec.documents) call the very same functions.
EnvId = Annotated[str, AfterValidator(rules.check_env_id)]
DeploymentId = Annotated[str, AfterValidator(rules.deployment_id)]
RevisionId = Annotated[str, AfterValidator(rules.revision_id)]
Digest = Annotated[str, AfterValidator(rules.check_digest)]
Slot = Annotated[str, AfterValidator(rules.slot)]
PathPrefixes = Annotated[list[str], AfterValidator(rules.path_prefixes)]


class HostConfig(Model):
    env_id: str
    region: str | None = None
    tenant_org_id: str | None = None
    listen_addr: str | None = None
    public_base_url: str | None = None
    gui_enabled: bool | None = None


class EnvPackBinding(Model):
    slot: Slot
    kind: str
    pack_ref: str
    answers_ref: str | None = None
    generation: int = 0


class TenantSelector(Model):
    tenant: str = "tenant-default"
    team: str = "default"


class RouteBinding(Model):
    hosts: list[str] = Field(default_factory=list)
    path_prefixes: PathPrefixes = Field(default_factory=list)
    tenant_selector: TenantSelector = Field(default_factory=TenantSelector)


class BundleDeployment(Model):
    schema_: Literal["greentic.bundle-deployment.v1"] = Field(
        default="greentic.bundle-deployment.v1", alias="schema"
    )
    deployment_id: DeploymentId
    env_id: str
    bundle_id: str
    customer_id: str
    status: Literal["active", "paused", "archived"] = "active"
    current_revisions: list[str] = Field(default_factory=list)
    route_binding: RouteBinding = Field(default_factory=RouteBinding)
    created_at: str

    model_config = Model.model_config | {"populate_by_name": True}


class PackListEntry(Model):
    pack_id: str
    version: str
    digest: str
    source_uri: str | None = None


class Revision(Model):
    schema_: Literal["greentic.revision.v1"] = Field(default="greentic.revision.v1", alias="schema")
    revision_id: RevisionId
    env_id: str
    bundle_id: str
    deployment_id: str
    sequence: int
    created_at: str
    bundle_digest: Digest
    bundle_source_uri: str | None = None
    pack_list: list[PackListEntry] = Field(default_factory=list)
    pack_list_lock_ref: str
    pack_config_refs: list[str] = Field(default_factory=list)
    lifecycle: Lifecycle = "staged"
    staged_at: str | None = None
    warmed_at: str | None = None

    model_config = Model.model_config | {"populate_by_name": True}


class TrafficEntry(Model):
    revision_id: str
    weight_bps: int = Field(ge=0, le=MAX_BPS)


class TrafficSplit(Model):
    schema_: Literal["greentic.traffic-split.v1"] = Field(
        default="greentic.traffic-split.v1", alias="schema"
    )
    env_id: str
    deployment_id: str
    bundle_id: str
    generation: int = 0
    entries: Annotated[list[TrafficEntry], AfterValidator(rules.split_weights)]
    updated_at: str
    idempotency_key: str

    model_config = Model.model_config | {"populate_by_name": True}


class MessagingEndpoint(Model):
    schema_: Literal["greentic.messaging-endpoint.v1"] = Field(
        default="greentic.messaging-endpoint.v1", alias="schema"
    )
    env_id: str
    endpoint_id: str
    provider_type: str
    provider_id: str
    display_name: str
    secret_refs: list[str] = Field(default_factory=list)
    webhook_secret_ref: str | None = None
    linked_bundles: list[str] = Field(default_factory=list)

    model_config = Model.model_config | {"populate_by_name": True}


class Environment(Model):
    schema_: Literal["greentic.environment.v1"] = Field(
        default="greentic.environment.v1", alias="schema"
    )
    environment_id: EnvId
    name: str
    host_config: HostConfig
    packs: list[EnvPackBinding] = Field(default_factory=list)
    bundles: list[BundleDeployment] = Field(default_factory=list)
    revisions: list[Revision] = Field(default_factory=list)
    traffic_splits: list[TrafficSplit] = Field(default_factory=list)
    messaging_endpoints: list[MessagingEndpoint] = Field(default_factory=list)

    model_config = Model.model_config | {"populate_by_name": True}

    # -- lookups (pure) -------------------------------------------------------------------
    def pack(self, slot: str) -> EnvPackBinding | None:
        return next((p for p in self.packs if p.slot == slot), None)

    def deployment(self, deployment_id: str) -> BundleDeployment | None:
        return next((b for b in self.bundles if b.deployment_id == deployment_id), None)

    def deployment_for_bundle(self, bundle_id: str) -> BundleDeployment | None:
        return next((b for b in self.bundles if b.bundle_id == bundle_id), None)

    def revision(self, revision_id: str) -> Revision | None:
        return next((r for r in self.revisions if r.revision_id == revision_id), None)

    def split(self, deployment_id: str) -> TrafficSplit | None:
        return next((s for s in self.traffic_splits if s.deployment_id == deployment_id), None)

    def routed_revisions(self) -> list[tuple[Revision, int]]:
        """Revisions carrying traffic (weight > 0), in split order then entry order."""
        out: list[tuple[Revision, int]] = []
        for split in self.traffic_splits:
            for entry in split.entries:
                rev = self.revision(entry.revision_id)
                if rev is not None and entry.weight_bps > 0:
                    out.append((rev, entry.weight_bps))
        return out

    def check(self) -> None:
        """Cross-document rules (greentic.spec.rules); raises ValueError with the first one
        broken."""
        rules.check_environment(self.model_dump())
