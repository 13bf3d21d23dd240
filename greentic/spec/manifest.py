"""The env-manifest `greentic.env-manifest.v1` (SPEC §4.1): what `op env apply` reads.

Every model forbids unknown keys, so a typo fails with the key's name. Structural rules that
need nothing but the document (unique slots/bundles/endpoints, answers XOR answers_ref, a
bundle source) live here; rules that touch files, secrets or the store are in
`greentic.deployer.apply`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from greentic.spec.base import Model, check_digest, check_env_id
from greentic.spec.environment import SLOTS, RouteBinding

SCHEMA = "greentic.env-manifest.v1"


class ManifestEnvironment(Model):
    """`environment{}`: absent fields mean "leave untouched"; nothing is ever cleared."""

    id: str
    name: str | None = None
    region: str | None = None
    tenant_org_id: str | None = None
    listen_addr: str | None = None
    public_base_url: str | None = None
    gui_enabled: bool | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not v:
            raise ValueError("environment.id must not be empty")
        return check_env_id(v)


class ManifestPack(Model):
    slot: str
    kind: str
    pack_ref: str
    answers_ref: str | None = None
    answers: dict[str, Any] | None = None

    @field_validator("slot")
    @classmethod
    def _slot(cls, v: str) -> str:
        if v != "messaging" and v not in SLOTS:  # messaging: the clearer message below
            raise ValueError(f"slot `{v}` is not one of {', '.join(SLOTS)}")
        return v

    @model_validator(mode="after")
    def _answers(self) -> ManifestPack:
        if self.answers is not None and self.answers_ref is not None:
            raise ValueError(
                f"packs[] slot `{self.slot}`: `answers` and `answers_ref` are mutually exclusive"
            )
        if self.slot == "messaging":
            raise ValueError(
                "packs[]: slot `messaging` does not bind in packs — use messaging_endpoints[] "
                "instead"
            )
        return self


class ManifestBundle(Model):
    bundle_id: str = Field(min_length=1)
    bundle_path: str | None = None
    bundle_source_uri: str | None = None
    bundle_digest: str | None = None
    customer_id: str | None = None
    route_binding: RouteBinding | None = None

    @field_validator("bundle_digest")
    @classmethod
    def _digest(cls, v: str | None) -> str | None:
        return check_digest(v) if v is not None else None

    @model_validator(mode="after")
    def _source(self) -> ManifestBundle:
        if not self.bundle_path and not self.bundle_source_uri:
            raise ValueError(
                f"bundle `{self.bundle_id}`: a single-revision bundle needs a `bundle_path` or "
                "a `bundle_source_uri`"
            )
        return self


class ManifestSecret(Model):
    path: str
    from_env: str | None = None

    @field_validator("from_env")
    @classmethod
    def _from_env(cls, v: str | None) -> str | None:
        if v is not None and not v:
            raise ValueError("from_env must not be empty")
        return v


class ManifestEndpoint(Model):
    name: str = Field(min_length=1)
    provider_type: str = Field(min_length=1)
    links: list[str] = Field(default_factory=list)
    secret_refs: list[str] = Field(default_factory=list)

    @field_validator("links")
    @classmethod
    def _links(cls, v: list[str]) -> list[str]:
        dup = sorted({x for x in v if v.count(x) > 1})
        if dup:
            raise ValueError(f"link `{dup[0]}` is listed twice")
        return v


def _unique(items: list[str], what: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item in seen:
            raise ValueError(f"duplicate {what} `{item}` in manifest")
        seen.add(item)


class EnvManifest(Model):
    schema_: Literal["greentic.env-manifest.v1"] = Field(alias="schema")
    environment: ManifestEnvironment
    trust_root: Literal["bootstrap"] | None = None
    packs: list[ManifestPack] = Field(default_factory=list)
    bundles: list[ManifestBundle] = Field(default_factory=list)
    secrets: list[ManifestSecret] = Field(default_factory=list)
    messaging_endpoints: list[ManifestEndpoint] = Field(default_factory=list)

    model_config = Model.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _shape(self) -> EnvManifest:
        _unique([p.slot for p in self.packs], "slot (packs[])")
        _unique([b.bundle_id for b in self.bundles], "bundle_id (bundles[])")
        _unique([s.path.lstrip("/") for s in self.secrets], "secret path (secrets[])")
        _unique([e.name for e in self.messaging_endpoints], "endpoint name")
        return self
