"""Decide what a reconcile does: desired objects + live objects → a frozen Plan(apply, prune).

Pure, like lightkube's request builders: argument mistakes (no Namespace first, an object in
another namespace, a duplicate, an unknown kind) are ValueErrors raised before any I/O; a
live object owned by another env is a Conflict. Order is data (`RANK`), reversed for prune.
Called by reconcile.run; the prune scenario's "14 → 12 applied + 2 pruned" is a unit test here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from greentic.deployer.k8s import naming
from greentic.deployer.k8s.bodies import Body, ObjectRef, kind_info, ref
from greentic.errors import Conflict

# Apply order: lower ranks first, render order kept within a rank (stable sort). Only what
# others need must come first: the Namespace holds everything, the ConfigMaps are mounted by
# the pods. The Secret stays in the 1000s on purpose: SPEC §6.3 pins it after the
# NetworkPolicies (object 13 of upstream's list) and the pods mount it `optional: true`.
RANK: Mapping[str, int] = {
    "Namespace": 20,
    "ConfigMap": 30,
    "Deployment": 1000,
    "Service": 1000,
    "PodDisruptionBudget": 1000,
    "Ingress": 1000,
    "NetworkPolicy": 1000,
    "Secret": 1000,
}
# Kinds reconcile lists to find live objects (ownership guard, prune candidates, actions).
LISTED: tuple[str, ...] = tuple(RANK)
# Within one prune rank, a revision's Deployment goes before its Service (upstream's order).
_PRUNE_TIEBREAK = {"Deployment": 0, "Service": 1}


@dataclass(frozen=True)
class Plan:
    """What to apply (in order) and what to prune (in order); `live` maps refs to live bodies."""

    namespace: str
    apply: tuple[Body, ...]
    prune: tuple[ObjectRef, ...]
    selector: Mapping[str, str]
    live: Mapping[ObjectRef, Body] = field(default_factory=dict)

    def live_of(self, obj: Body) -> Body | None:
        return self.live.get(ref(obj))


def rank(kind: str) -> int:
    if kind not in RANK:
        raise ValueError(f"kind `{kind}` has no apply rank; RANK covers {sorted(RANK)}")
    return RANK[kind]


def _check_desired(desired: Sequence[Body]) -> str:
    if not desired or desired[0]["kind"] != "Namespace":
        raise ValueError("desired objects must start with their Namespace")
    namespace = desired[0]["metadata"]["name"]
    seen: set[ObjectRef] = set()
    for obj in desired:
        info = kind_info(obj["kind"])
        rank(obj["kind"])
        if obj["apiVersion"] != info.api_version:
            raise ValueError(f"{obj['kind']} must be {info.api_version}, not {obj['apiVersion']}")
        obj_ns = obj["metadata"].get("namespace")
        if info.namespaced and obj_ns != namespace:
            raise ValueError(
                f"{obj['kind']} {obj['metadata']['name']} is in namespace `{obj_ns}`, "
                f"not the rendered namespace `{namespace}`"
            )
        key = ref(obj)
        if key in seen:
            raise ValueError(f"{key} appears twice in the desired objects")
        seen.add(key)
    return namespace


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    labels: Mapping[str, str] = obj.get("metadata", {}).get("labels") or {}
    return labels


def plan(desired: Sequence[Body], live: Sequence[Body], *, selector: Mapping[str, str]) -> Plan:
    """Apply every desired object; prune live objects matching `selector` that are not desired.

    `selector` is the env's label set (managed-by + env). The Namespace is never pruned.
    """
    if not selector.get(naming.MANAGED_BY) or not selector.get(naming.ENV_LABEL):
        raise ValueError("the prune selector must name the manager and the env")
    namespace = _check_desired(desired)
    wanted = {ref(obj): obj for obj in desired}
    env_value = selector[naming.ENV_LABEL]
    live_by_ref: dict[ObjectRef, Body] = {}
    prune: list[ObjectRef] = []
    for obj in live:
        key = ref(obj)
        owner = _labels(obj).get(naming.ENV_LABEL)
        if key in wanted:
            if owner is not None and owner != env_value:
                raise Conflict(
                    f"refusing to apply `{key.name}` in namespace `{namespace}`: it is owned by "
                    f"env `{owner}` but this apply belongs to env `{env_value}`",
                    hint="give one of the envs its own namespace (the `namespace` answer)",
                )
            live_by_ref[key] = obj
        elif (
            key.kind != "Namespace"
            and key.kind in RANK
            and key.namespace == namespace
            and all(_labels(obj).get(k) == v for k, v in selector.items())
        ):
            prune.append(key)
    ordered = sorted(desired, key=lambda o: rank(o["kind"]))
    prune.sort(key=lambda r: (-rank(r.kind), r.name, _PRUNE_TIEBREAK.get(r.kind, 2), r.kind))
    return Plan(
        namespace=namespace,
        apply=tuple(ordered),
        prune=tuple(prune),
        selector=dict(selector),
        live=live_by_ref,
    )
