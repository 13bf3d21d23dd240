"""`traffic set`: replace a deployment's split; weights sum to exactly 10000 bps.

`parse_weight` reads the CLI forms `N` (basis points), `N%` and `Nbps`. `plan_split` is the
pure rule check (ready revisions of that deployment, no duplicates, sum 10000). Idempotency:
the same key with the same entries replays as a no-op; with different entries it is a
conflict; a new key bumps the generation. Called by the CLI, deploy and env apply.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator

from greentic.deployer.common import EnvPayload
from greentic.errors import Conflict, InvalidArgument, NotFound
from greentic.spec.base import Model, check_ulid, now_rfc3339
from greentic.spec.environment import MAX_BPS, Environment, TrafficEntry, TrafficSplit
from greentic.store import ids
from greentic.store.envstore import Store

WEIGHT_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(%|bps)?", re.ASCII)


class EntryPayload(Model):
    """One split entry: `weight_bps` wins over `weight_percent` when both are given."""

    revision_id: str
    weight_bps: int | None = Field(default=None, ge=0, le=MAX_BPS)
    weight_percent: Decimal | None = Field(default=None, ge=0, le=100)

    @field_validator("revision_id")
    @classmethod
    def _rev(cls, v: str) -> str:
        return check_ulid(v, "revision_id")

    def bps(self) -> int:
        if self.weight_bps is not None:
            return self.weight_bps
        if self.weight_percent is None:
            raise InvalidArgument(
                f"traffic entry for `{self.revision_id}` needs weight_bps or weight_percent"
            )
        bps = self.weight_percent * 100
        if bps != bps.to_integral_value():
            raise InvalidArgument(
                f"weight_percent {self.weight_percent} of `{self.revision_id}` is finer than "
                "one basis point (0.01%)"
            )
        return int(bps)


class TrafficSetPayload(EnvPayload):
    """`{environment_id, deployment_id, entries:[{revision_id, weight_bps|weight_percent}],
    idempotency_key?}`."""

    deployment_id: str
    entries: list[EntryPayload] = Field(min_length=1)
    idempotency_key: str | None = None

    @field_validator("deployment_id")
    @classmethod
    def _dep(cls, v: str) -> str:
        return check_ulid(v, "deployment_id")

    @field_validator("idempotency_key")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("idempotency_key must not be blank")
        return v


def parse_weight(text: str) -> int:
    """`N` (bps), `N%` or `Nbps` → basis points. Only plain decimal digits: Decimal alone would
    also take `1e4`, `1_0000`, `NaN` or `sNaN` (the last one raising on comparison)."""
    form = WEIGHT_RE.fullmatch(text.strip())
    if form is None:
        raise InvalidArgument(f"weight `{text}` must be N (basis points), N% or Nbps")
    number, unit = form.group(1), form.group(2)
    bps = Decimal(number) * 100 if unit == "%" else Decimal(number)
    if bps != bps.to_integral_value() or not 0 <= bps <= MAX_BPS:
        raise InvalidArgument(f"weight `{text}` must be a whole number of bps in 0..10000")
    return int(bps)


def parse_entry(arg: str) -> dict[str, Any]:
    """`<revision>=<weight>` → `{revision_id, weight_bps}`."""
    rev, sep, weight = arg.partition("=")
    if not sep:
        raise InvalidArgument(f"traffic entry `{arg}` must be <revision_id>=<weight>")
    return {"revision_id": rev, "weight_bps": parse_weight(weight)}


def plan_split(env: Environment, deployment_id: str, entries: list[TrafficEntry]) -> None:
    """The split rules (pure): known ready revisions of the deployment, sum exactly 10000."""
    env_id = env.environment_id
    if env.deployment(deployment_id) is None:
        raise NotFound(f"deployment `{deployment_id}` not found in env `{env_id}`")
    seen: set[str] = set()
    for e in entries:
        if e.revision_id in seen:
            raise InvalidArgument(f"revision `{e.revision_id}` appears twice in the split")
        seen.add(e.revision_id)
        rev = env.revision(e.revision_id)
        if rev is None:
            raise NotFound(f"revision `{e.revision_id}` not found in env `{env_id}`")
        if rev.deployment_id != deployment_id:
            raise InvalidArgument(
                f"revision `{e.revision_id}` belongs to deployment `{rev.deployment_id}`, "
                f"not `{deployment_id}`"
            )
        if rev.lifecycle != "ready":
            warmable = rev.lifecycle in ("staged", "warming")
            raise Conflict(
                f"revision `{e.revision_id}` is `{rev.lifecycle}`; only `ready` revisions may "
                "receive traffic",
                hint=f"warm it first: gtc op revisions warm revision_id={e.revision_id}"
                if warmable
                else "stage the bundle again (revisions stage) and route the new revision",
            )
    total = sum(e.weight_bps for e in entries)
    if total != MAX_BPS:
        hint = None
        if total == 100:
            hint = "a bare weight is basis points; write 100% (or 10000) for the whole split"
        raise InvalidArgument(
            f"traffic weights must sum to exactly 10000 bps (100%), got {total}", hint=hint
        )


def _canon(entries: list[TrafficEntry]) -> list[tuple[str, int]]:
    return sorted((e.revision_id, e.weight_bps) for e in entries)


def default_key(env_id: str, deployment_id: str, entries: list[TrafficEntry]) -> str:
    """A key derived from the desired split, so re-sending the same split replays."""
    return ids.derived_ulid("traffic", env_id, deployment_id, json.dumps(_canon(entries)))


def summary(
    env_id: str, split: TrafficSplit, *, has_previous: bool, replayed: bool
) -> dict[str, Any]:
    """upstream's TrafficSummary (+ `replayed`)."""
    return {
        "environment_id": env_id,
        "deployment_id": split.deployment_id,
        "bundle_id": split.bundle_id,
        "generation": split.generation,
        "entries": [e.to_json_dict() for e in split.entries],
        "has_previous": has_previous,
        "replayed": replayed,
        "idempotency_key": split.idempotency_key,
    }


def set_split(store: Store, p: TrafficSetPayload) -> dict[str, Any]:
    """Replace the deployment's split (or replay it) and re-project runtime-config.json."""
    env_id = p.environment_id
    entries = [TrafficEntry(revision_id=e.revision_id, weight_bps=e.bps()) for e in p.entries]
    key = p.idempotency_key or default_key(env_id, p.deployment_id, entries)
    store.load(env_id)
    with store.locked(env_id):
        env = store.load(env_id)
        plan_split(env, p.deployment_id, entries)
        current = env.split(p.deployment_id)
        if current is not None and current.idempotency_key == key:
            if _canon(current.entries) == _canon(entries):
                return summary(env_id, current, has_previous=current.generation > 0, replayed=True)
            raise Conflict(
                f"idempotency key `{key}` already used for deployment `{p.deployment_id}` "
                "with different entries"
            )
        dep = env.deployment(p.deployment_id)
        assert dep is not None  # plan_split checked it
        split = TrafficSplit(
            env_id=env_id,
            deployment_id=p.deployment_id,
            bundle_id=dep.bundle_id,
            generation=0 if current is None else current.generation + 1,
            entries=entries,
            updated_at=now_rfc3339(),
            idempotency_key=key,
        )
        if current is None:
            env.traffic_splits.append(split)
        else:
            env.traffic_splits[env.traffic_splits.index(current)] = split
        store.save(env)
        store.audit(env_id, verb="traffic.set", idempotency_key=key)
    return summary(env_id, split, has_previous=current is not None, replayed=False)
