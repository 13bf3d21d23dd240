"""The JSON documents inside the archives: pack `manifest.json` and `bundle-manifest.json`.

Pydantic models with unknown keys rejected (SPEC §5), plus their one canonical on-disk form.
The builder writes them, the reader validates them, `signing` signs the pack manifest.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from greentic.errors import SpecError
from greentic.spec.base import Model, check_digest

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
PACK_SCHEMA = "pack-v1"
BUNDLE_FORMAT = "gtbundle-v1"
PACK_MANIFEST = "manifest.json"
BUNDLE_MANIFEST = "bundle-manifest.json"
BUNDLE_YAML = "bundle.yaml"


def check_id(value: str, what: str) -> str:
    """A pack or bundle id that is also a safe file stem."""
    if not ID_RE.match(value):
        raise ValueError(
            f"{what} `{value}` must be 1-128 ASCII letters, digits, `.`, `_` or `-` "
            "and start with a letter or digit"
        )
    return value


class FlowEntry(Model):
    id: str
    kind: str = "messaging"
    entrypoints: list[str] = Field(default_factory=lambda: ["default"])

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return check_id(v, "flow id")


class Signature(Model):
    key_id: str
    algorithm: Literal["ed25519"] = "ed25519"
    signature: str


class PackManifest(Model):
    schema_version: Literal["pack-v1"] = "pack-v1"
    pack_id: str
    version: str
    flows: list[FlowEntry] = Field(default_factory=list)
    components: list[dict[str, Any]] = Field(default_factory=list)
    signatures: list[Signature] = Field(default_factory=list)

    @field_validator("pack_id")
    @classmethod
    def _id(cls, v: str) -> str:
        return check_id(v, "pack_id")

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        if not v or any(c.isspace() for c in v):
            raise ValueError(f"pack version `{v}` must be a non-empty version string")
        return v

    @field_validator("flows")
    @classmethod
    def _flows(cls, v: list[FlowEntry]) -> list[FlowEntry]:
        ids = [f.id for f in v]
        if len(set(ids)) != len(ids):
            raise ValueError("a flow id is listed twice")
        return v


class AppPack(Model):
    pack_id: str
    version: str
    path: str
    digest: str

    @field_validator("digest")
    @classmethod
    def _digest(cls, v: str) -> str:
        return check_digest(v)


class BundleManifest(Model):
    format_version: Literal["gtbundle-v1"] = "gtbundle-v1"
    bundle_id: str
    bundle_name: str
    app_packs: list[AppPack] = Field(default_factory=list)

    @field_validator("bundle_id")
    @classmethod
    def _id(cls, v: str) -> str:
        return check_id(v, "bundle_id")


def pack_path(pack_id: str) -> str:
    """Where a pack lives inside a bundle."""
    return f"packs/{pack_id}.gtpack"


def pack_config_path(pack_id: str) -> str:
    """Where a pack's config input lives inside a bundle."""
    return f"state/pack-configs/{pack_id}.json"


def flow_path(flow_id: str) -> str:
    """Where a flow's source lives inside a pack."""
    return f"flows/{flow_id}.ygtc"


def to_file_bytes(doc: Model) -> bytes:
    """The on-disk form of a manifest: sorted keys, 2-space indent, trailing newline."""
    return (json.dumps(doc.to_json_dict(), indent=2, sort_keys=True) + "\n").encode()


def parse_json(data: bytes, what: str) -> Any:
    """Parse an embedded JSON document; a bad one is a SpecError naming it."""
    try:
        return json.loads(data)
    except ValueError as exc:
        raise SpecError(f"{what}: not valid JSON ({exc})") from None


def first_error(exc: ValidationError) -> str:
    """First pydantic error as `field.path: message` (unknown keys named)."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = f"unknown key `{err['loc'][-1]}`" if err["type"] == "extra_forbidden" else err["msg"]
    return f"{loc}: {msg}" if loc else msg


def parse_pack_manifest(data: bytes, what: str) -> PackManifest:
    """Validate a pack's manifest.json bytes."""
    try:
        return PackManifest.model_validate(parse_json(data, what))
    except ValidationError as exc:
        raise SpecError(f"{what}: {first_error(exc)}") from None


def parse_bundle_manifest(data: bytes, what: str) -> BundleManifest:
    """Validate a bundle's bundle-manifest.json bytes."""
    try:
        return BundleManifest.model_validate(parse_json(data, what))
    except ValidationError as exc:
        raise SpecError(f"{what}: {first_error(exc)}") from None
