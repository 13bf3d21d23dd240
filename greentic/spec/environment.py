"""environment.json (`greentic.environment.v1`) and its nested documents (SPEC §2.1).

Pure data plus `Environment.check()`, the cross-document rules (weights, links, ownership)
that every store write runs before anything reaches disk.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from greentic.spec.base import Model, check_digest, check_env_id, check_ulid

SLOTS = ("deployer", "secrets", "telemetry", "sessions", "state", "revocation")
Lifecycle = Literal["staged", "warming", "ready", "draining", "failed", "archived"]
ROUTABLE: frozenset[str] = frozenset({"warming", "ready", "draining"})
MAX_BPS = 10_000


class HostConfig(Model):
    env_id: str
    region: str | None = None
    tenant_org_id: str | None = None
    listen_addr: str | None = None
    public_base_url: str | None = None
    gui_enabled: bool | None = None


class EnvPackBinding(Model):
    slot: str
    kind: str
    pack_ref: str
    answers_ref: str | None = None
    generation: int = 0

    @field_validator("slot")
    @classmethod
    def _slot(cls, v: str) -> str:
        if v not in SLOTS:
            raise ValueError(f"slot `{v}` is not one of {', '.join(SLOTS)}")
        return v


class TenantSelector(Model):
    tenant: str = "tenant-default"
    team: str = "default"


class RouteBinding(Model):
    hosts: list[str] = Field(default_factory=list)
    path_prefixes: list[str] = Field(default_factory=list)
    tenant_selector: TenantSelector = Field(default_factory=TenantSelector)

    @field_validator("path_prefixes")
    @classmethod
    def _prefixes(cls, v: list[str]) -> list[str]:
        for p in v:
            if not p.startswith("/"):
                raise ValueError(f"path prefix `{p}` must start with `/`")
        return v


class BundleDeployment(Model):
    schema_: Literal["greentic.bundle-deployment.v1"] = Field(
        default="greentic.bundle-deployment.v1", alias="schema"
    )
    deployment_id: str
    env_id: str
    bundle_id: str
    customer_id: str
    status: Literal["active", "paused", "archived"] = "active"
    current_revisions: list[str] = Field(default_factory=list)
    route_binding: RouteBinding = Field(default_factory=RouteBinding)
    created_at: str

    model_config = Model.model_config | {"populate_by_name": True}

    @field_validator("deployment_id")
    @classmethod
    def _id(cls, v: str) -> str:
        return check_ulid(v, "deployment_id")


class PackListEntry(Model):
    pack_id: str
    version: str
    digest: str
    source_uri: str | None = None


class Revision(Model):
    schema_: Literal["greentic.revision.v1"] = Field(default="greentic.revision.v1", alias="schema")
    revision_id: str
    env_id: str
    bundle_id: str
    deployment_id: str
    sequence: int
    created_at: str
    bundle_digest: str
    bundle_source_uri: str | None = None
    pack_list: list[PackListEntry] = Field(default_factory=list)
    pack_list_lock_ref: str
    pack_config_refs: list[str] = Field(default_factory=list)
    lifecycle: Lifecycle = "staged"
    staged_at: str | None = None
    warmed_at: str | None = None

    model_config = Model.model_config | {"populate_by_name": True}

    @field_validator("revision_id")
    @classmethod
    def _id(cls, v: str) -> str:
        return check_ulid(v, "revision_id")

    @field_validator("bundle_digest")
    @classmethod
    def _digest(cls, v: str) -> str:
        return check_digest(v)


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
    entries: list[TrafficEntry]
    updated_at: str
    idempotency_key: str

    model_config = Model.model_config | {"populate_by_name": True}

    @field_validator("entries")
    @classmethod
    def _sum(cls, v: list[TrafficEntry]) -> list[TrafficEntry]:
        total = sum(e.weight_bps for e in v)
        if total != MAX_BPS:
            raise ValueError(f"traffic split weights must sum to exactly 10000 bps, got {total}")
        return v


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
    environment_id: str
    name: str
    host_config: HostConfig
    packs: list[EnvPackBinding] = Field(default_factory=list)
    bundles: list[BundleDeployment] = Field(default_factory=list)
    revisions: list[Revision] = Field(default_factory=list)
    traffic_splits: list[TrafficSplit] = Field(default_factory=list)
    messaging_endpoints: list[MessagingEndpoint] = Field(default_factory=list)

    model_config = Model.model_config | {"populate_by_name": True}

    @field_validator("environment_id")
    @classmethod
    def _env_id(cls, v: str) -> str:
        return check_env_id(v)

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
        """Cross-document rules; raises ValueError with the first violation found."""
        env = self.environment_id
        if self.host_config.env_id != env:
            raise ValueError(f"host_config.env_id `{self.host_config.env_id}` != `{env}`")
        slots = [p.slot for p in self.packs]
        dup = {s for s in slots if slots.count(s) > 1}
        if dup:
            raise ValueError(f"duplicate pack binding for slot `{sorted(dup)[0]}`")
        self._check_owners()
        self._check_splits()
        self._check_links()

    def _check_owners(self) -> None:
        env = self.environment_id
        owners: list[tuple[str, str]] = [
            *(("bundle deployment", d.env_id) for d in self.bundles),
            *(("revision", r.env_id) for r in self.revisions),
            *(("traffic split", t.env_id) for t in self.traffic_splits),
            *(("messaging endpoint", m.env_id) for m in self.messaging_endpoints),
        ]
        for what, owner in owners:
            if owner != env:
                raise ValueError(f"{what} belongs to env `{owner}`, not `{env}`")

    def _check_splits(self) -> None:
        for split in self.traffic_splits:
            dep = self.deployment(split.deployment_id)
            if dep is None:
                raise ValueError(
                    f"traffic split points at unknown deployment `{split.deployment_id}`"
                )
            for entry in split.entries:
                rev = self.revision(entry.revision_id)
                if rev is None or rev.deployment_id != split.deployment_id:
                    raise ValueError(
                        f"traffic split of deployment `{split.deployment_id}` points at revision "
                        f"`{entry.revision_id}`, which is not a revision of that deployment"
                    )

    def _check_links(self) -> None:
        deployed = {b.bundle_id for b in self.bundles}
        for ep in self.messaging_endpoints:
            for linked in ep.linked_bundles:
                if linked not in deployed:
                    raise ValueError(
                        f"messaging endpoint `{ep.display_name}` links bundle `{linked}`, "
                        "which is not deployed in this env"
                    )
