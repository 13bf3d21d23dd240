"""Shared pydantic base: unknown keys are rejected everywhere, JSON output is stable."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

# The id/digest rules live in greentic.spec.rules (no pydantic); re-exported for the models.
from greentic.spec.rules import check_digest as check_digest
from greentic.spec.rules import check_env_id as check_env_id
from greentic.spec.rules import check_ulid as check_ulid


class Model(BaseModel):
    """Base model: forbid unknown keys, validate on assignment, drop None on dump."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict with optional fields left out when unset."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def now_rfc3339() -> str:
    """Current UTC time, RFC 3339 with a `Z` suffix (upstream's chrono form)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
