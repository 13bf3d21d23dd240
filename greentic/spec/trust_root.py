"""trust-root.json (`greentic.trust-root.v1`): the env's trusted Ed25519 public keys.

`{schema, keys:[{key_id, public_key_pem}]}`; key ids are 32 lowercase hex chars. Read and
written by `greentic.trust.trust_root`; pack verification takes its keys.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from greentic.spec.base import Model

KEY_ID_RE = re.compile(r"^[0-9a-f]{32}$")


class TrustKey(Model):
    key_id: str
    public_key_pem: str

    @field_validator("key_id", mode="before")
    @classmethod
    def _key_id(cls, v: object) -> object:
        if isinstance(v, str):
            v = v.lower()
            if not KEY_ID_RE.match(v):
                raise ValueError(f"key_id `{v}` must be 32 hex chars")
        return v


class TrustRoot(Model):
    schema_: Literal["greentic.trust-root.v1"] = Field(
        default="greentic.trust-root.v1", alias="schema"
    )
    keys: list[TrustKey] = Field(default_factory=list)

    model_config = Model.model_config | {"populate_by_name": True}

    def with_key(self, key: TrustKey) -> TrustRoot:
        """A copy with `key` added, replacing any entry with the same key_id."""
        if any(k.key_id == key.key_id for k in self.keys):
            return TrustRoot(keys=[key if k.key_id == key.key_id else k for k in self.keys])
        return TrustRoot(keys=[*self.keys, key])
