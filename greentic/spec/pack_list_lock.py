"""pack-list.lock (`greentic.pack-list-lock.v1`): the per-pack pins of a materialized revision.

Written by `greentic.bundle.materialize` next to the unpacked bundle and read back by
`greentic.bundle.reader.load_revision_packs`, which re-checks each .gtpack against its digest.
Paths are env-relative (`revisions/<REV>/bundle/packs/<pack_id>.gtpack`), sorted by path.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from greentic.spec.base import Model, check_digest, check_ulid

SCHEMA = "greentic.pack-list-lock.v1"


class PackLockEntry(Model):
    pack_id: str
    path: str
    digest: str

    @field_validator("path")
    @classmethod
    def _relative(cls, v: str) -> str:
        parts = v.split("/")
        if v.startswith("/") or "\\" in v or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"pack path `{v}` must be a clean env-relative path")
        return v

    @field_validator("digest")
    @classmethod
    def _digest(cls, v: str) -> str:
        return check_digest(v)


class PackListLock(Model):
    schema_: Literal["greentic.pack-list-lock.v1"] = Field(
        default="greentic.pack-list-lock.v1", alias="schema"
    )
    revision_id: str
    packs: list[PackLockEntry] = Field(default_factory=list)

    model_config = Model.model_config | {"populate_by_name": True}

    @field_validator("revision_id")
    @classmethod
    def _rev(cls, v: str) -> str:
        return check_ulid(v, "revision_id")

    @field_validator("packs")
    @classmethod
    def _sorted(cls, v: list[PackLockEntry]) -> list[PackLockEntry]:
        paths = [p.path for p in v]
        if paths != sorted(paths):
            raise ValueError("pack-list.lock packs must be sorted by path")
        if len(set(paths)) != len(paths):
            raise ValueError("pack-list.lock lists a pack path twice")
        ids = [p.pack_id for p in v]
        if len(set(ids)) != len(ids):
            raise ValueError("pack-list.lock lists a pack_id twice")
        return v


def build(revision_id: str, packs: list[PackLockEntry]) -> PackListLock:
    """The lock for `packs`, sorted by path (the one order readers accept)."""
    return PackListLock(revision_id=revision_id, packs=sorted(packs, key=lambda p: p.path))
