"""The store documents' own rules, in plain Python (no pydantic): one copy for two readers.

The pydantic models (`greentic.spec.environment`, `…runtime_config`) call these as field
validators and cross-document checks, and the compiled validators of `greentic.spec.documents`
(pydantic-core alone, for the read-only `env show` path, #16) name them by function name. A
rule sees a validated value: a model instance on the model path, a dict on the compiled one,
so nested values are read with `field()`. Raise ValueError with the message a user sees.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENV_ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")
ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
SLOTS = ("deployer", "secrets", "telemetry", "sessions", "state", "revocation")
MAX_BPS = 10_000


def field(value: Any, name: str) -> Any:
    """`value.name` of a model instance, or `value[name]` of a validated dict."""
    return value[name] if isinstance(value, Mapping) else getattr(value, name)


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


# -- field validators (named in the compiled schemas: keep names and signatures) -----------
def deployment_id(value: str) -> str:
    return check_ulid(value, "deployment_id")


def revision_id(value: str) -> str:
    return check_ulid(value, "revision_id")


def slot(value: str) -> str:
    if value not in SLOTS:
        raise ValueError(f"slot `{value}` is not one of {', '.join(SLOTS)}")
    return value


def path_prefixes(value: list[str]) -> list[str]:
    for prefix in value:
        if not prefix.startswith("/"):
            raise ValueError(f"path prefix `{prefix}` must start with `/`")
    return value


def split_weights(entries: list[Any]) -> list[Any]:
    total = sum(field(e, "weight_bps") for e in entries)
    if total != MAX_BPS:
        raise ValueError(f"traffic split weights must sum to exactly 10000 bps, got {total}")
    return entries


# -- cross-document rules (on `model_dump()` output or a compiled validator's dict) ---------
def _by(items: list[Mapping[str, Any]], key: str, value: str) -> Mapping[str, Any] | None:
    return next((item for item in items if item[key] == value), None)


def check_environment(doc: Mapping[str, Any]) -> None:
    """Cross-document rules of environment.json; raises ValueError with the first violation."""
    env = doc["environment_id"]
    host_env = doc["host_config"]["env_id"]
    if host_env != env:
        raise ValueError(f"host_config.env_id `{host_env}` != `{env}`")
    slots = [p["slot"] for p in doc["packs"]]
    dup = {s for s in slots if slots.count(s) > 1}
    if dup:
        raise ValueError(f"duplicate pack binding for slot `{sorted(dup)[0]}`")
    _check_owners(doc)
    _check_splits(doc)
    _check_links(doc)


def _check_owners(doc: Mapping[str, Any]) -> None:
    env = doc["environment_id"]
    owners: list[tuple[str, str]] = [
        *(("bundle deployment", d["env_id"]) for d in doc["bundles"]),
        *(("revision", r["env_id"]) for r in doc["revisions"]),
        *(("traffic split", t["env_id"]) for t in doc["traffic_splits"]),
        *(("messaging endpoint", m["env_id"]) for m in doc["messaging_endpoints"]),
    ]
    for what, owner in owners:
        if owner != env:
            raise ValueError(f"{what} belongs to env `{owner}`, not `{env}`")


def _check_splits(doc: Mapping[str, Any]) -> None:
    for split in doc["traffic_splits"]:
        dep_id = split["deployment_id"]
        if _by(doc["bundles"], "deployment_id", dep_id) is None:
            raise ValueError(f"traffic split points at unknown deployment `{dep_id}`")
        for entry in split["entries"]:
            rev = _by(doc["revisions"], "revision_id", entry["revision_id"])
            if rev is None or rev["deployment_id"] != dep_id:
                raise ValueError(
                    f"traffic split of deployment `{dep_id}` points at revision "
                    f"`{entry['revision_id']}`, which is not a revision of that deployment"
                )


def _check_links(doc: Mapping[str, Any]) -> None:
    deployed = {b["bundle_id"] for b in doc["bundles"]}
    for ep in doc["messaging_endpoints"]:
        for linked in ep["linked_bundles"]:
            if linked not in deployed:
                raise ValueError(
                    f"messaging endpoint `{ep['display_name']}` links bundle `{linked}`, "
                    "which is not deployed in this env"
                )


def check_runtime_config(doc: Mapping[str, Any], env_id: str, env_dir: Path) -> None:
    """Loading rules of runtime-config.json: env id matches, weights per deployment sum to
    10000, refs stay inside the env dir."""
    if doc["env_id"] != env_id:
        raise ValueError(f"runtime-config env_id `{doc['env_id']}` != `{env_id}`")
    totals: dict[str, int] = {}
    root = env_dir.resolve()
    for block in doc["revisions"]:
        dep = block["deployment_id"]
        totals[dep] = totals.get(dep, 0) + block["weight_bps"]
        for ref in (*block["pack_list_refs"], *block["pack_config_refs"]):
            if not (env_dir / ref).resolve().is_relative_to(root):
                raise ValueError(f"runtime-config ref `{ref}` escapes the env directory")
    for dep, total in totals.items():
        if total != MAX_BPS:
            raise ValueError(f"deployment `{dep}` weights sum to {total}, expected 10000")
