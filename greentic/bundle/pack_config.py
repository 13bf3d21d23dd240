"""Pack configs: a bundle's `state/pack-configs/<pack_id>.json` inputs → per-revision outputs.

Input `greentic.pack-config-input.v1` `{schema, pack_id, env_id?, bundle_id?, non_secret,
secret_refs}` is validated against the revision it is materialized for; the output
`greentic.pack-config.v1` `{schema, pack_id, revision_id, non_secret, secret_refs,
runtime_refs}` is what the worker reads. Secret values never appear here, only `secret://` refs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError

from greentic.bundle.manifest import first_error, parse_json
from greentic.errors import SpecError
from greentic.spec.base import Model

INPUT_SCHEMA = "greentic.pack-config-input.v1"
OUTPUT_SCHEMA = "greentic.pack-config.v1"


class PackConfigInput(Model):
    schema_: Literal["greentic.pack-config-input.v1"] = Field(
        default="greentic.pack-config-input.v1", alias="schema"
    )
    pack_id: str
    env_id: str | None = None
    bundle_id: str | None = None
    non_secret: dict[str, Any] = Field(default_factory=dict)
    secret_refs: dict[str, str] = Field(default_factory=dict)

    model_config = Model.model_config | {"populate_by_name": True}


class PackConfig(Model):
    schema_: Literal["greentic.pack-config.v1"] = Field(
        default="greentic.pack-config.v1", alias="schema"
    )
    pack_id: str
    revision_id: str
    non_secret: dict[str, Any] = Field(default_factory=dict)
    secret_refs: dict[str, str] = Field(default_factory=dict)
    runtime_refs: dict[str, str] = Field(default_factory=dict)

    model_config = Model.model_config | {"populate_by_name": True}


def parse_input(data: bytes, *, what: str) -> PackConfigInput:
    """Validate the bytes of one pack-config input document."""
    try:
        return PackConfigInput.model_validate(parse_json(data, what))
    except ValidationError as exc:
        raise SpecError(f"{what}: {first_error(exc)}") from None


def resolve(
    cfg: PackConfigInput,
    *,
    stem: str,
    known_packs: set[str],
    env_id: str,
    bundle_id: str,
    revision_id: str,
    what: str,
) -> PackConfig:
    """The output config of `cfg` for one revision, after the upstream consistency rules."""
    if cfg.pack_id != stem:
        raise SpecError(f"{what}: pack_id `{cfg.pack_id}` does not match the file name `{stem}`")
    if cfg.pack_id not in known_packs:
        raise SpecError(f"{what}: pack `{cfg.pack_id}` is not one of the bundle's packs")
    if cfg.env_id is not None and cfg.env_id != env_id:
        raise SpecError(f"{what}: env_id `{cfg.env_id}` is not the target env `{env_id}`")
    if cfg.bundle_id is not None and cfg.bundle_id != bundle_id:
        raise SpecError(f"{what}: bundle_id `{cfg.bundle_id}` is not `{bundle_id}`")
    for key, ref in sorted(cfg.secret_refs.items()):
        expected = f"secret://{env_id}/{bundle_id}/{cfg.pack_id}/{key}"
        if ref != expected:
            raise SpecError(f"{what}: secret_refs.{key} must be exactly `{expected}`")
    return PackConfig(
        pack_id=cfg.pack_id,
        revision_id=revision_id,
        non_secret=cfg.non_secret,
        secret_refs=cfg.secret_refs,
    )
