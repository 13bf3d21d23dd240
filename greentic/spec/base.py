"""Shared pydantic base: unknown keys are rejected everywhere, JSON output is stable."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

ENV_ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")
ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


class Model(BaseModel):
    """Base model: forbid unknown keys, validate on assignment, drop None on dump."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict with optional fields left out when unset."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def now_rfc3339() -> str:
    """Current UTC time, RFC 3339 with a `Z` suffix (upstream's chrono form)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_env_id(env_id: str) -> str:
    """Return env_id when it is a safe, valid id; raise ValueError naming the rule otherwise."""
    if not env_id:
        raise ValueError("environment id must not be empty")
    if env_id in (".", ".."):
        raise ValueError(f"environment id `{env_id}` is not safe as a path segment")
    if not ENV_ID_RE.match(env_id):
        raise ValueError(
            f"environment id `{env_id}` may only contain ASCII letters, digits, `.`, `_` and `-`"
        )
    return env_id


def check_ulid(value: str, what: str) -> str:
    """Return value when it is a canonical (uppercase, 26 char) ULID."""
    if not ULID_RE.match(value):
        raise ValueError(f"{what} `{value}` is not a ULID (26 uppercase Crockford base32 chars)")
    return value


def check_digest(value: str) -> str:
    """Return value when it is `sha256:<64 lowercase hex>`."""
    if not DIGEST_RE.match(value):
        raise ValueError(f"bundle digest `{value}` must be `sha256:` followed by 64 hex digits")
    return value
