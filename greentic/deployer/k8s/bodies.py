"""Kubernetes objects as plain dicts: their typed shapes, refs, and the kind routing table.

Render produces `Body` dicts, plan compares them, and every `Cluster` implementation takes
them; nothing here does I/O. `KINDS` is the routing table (apiVersion, namespaced) for every
kind the renderer emits or reconcile reads, so an unknown kind fails before any request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, NotRequired, TypedDict


class Meta(TypedDict):
    name: str
    namespace: NotRequired[str]
    labels: NotRequired[dict[str, str]]
    annotations: NotRequired[dict[str, str]]
    resourceVersion: NotRequired[str]
    generation: NotRequired[int]
    uid: NotRequired[str]


class Body(TypedDict):
    """One Kubernetes object as the API speaks it (the keys our kinds use)."""

    apiVersion: str
    kind: str
    metadata: Meta
    spec: NotRequired[dict[str, Any]]
    data: NotRequired[dict[str, str]]
    type: NotRequired[str]
    status: NotRequired[dict[str, Any]]


class ObjectRef(NamedTuple):
    """Identity of one object: what apply, get and delete address."""

    api_version: str
    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"{self.kind} {self.name}{where}"


class KindInfo(NamedTuple):
    api_version: str
    namespaced: bool


KINDS: Mapping[str, KindInfo] = {
    "Namespace": KindInfo("v1", False),
    "ConfigMap": KindInfo("v1", True),
    "Secret": KindInfo("v1", True),
    "Service": KindInfo("v1", True),
    "Pod": KindInfo("v1", True),
    "Event": KindInfo("v1", True),
    "Deployment": KindInfo("apps/v1", True),
    "PodDisruptionBudget": KindInfo("policy/v1", True),
    "NetworkPolicy": KindInfo("networking.k8s.io/v1", True),
    "Ingress": KindInfo("networking.k8s.io/v1", True),
}


def kind_info(kind: str) -> KindInfo:
    """Routing entry of `kind`; a kind outside the table is a programming error."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(
            f"unsupported kind `{kind}`: the routing table covers exactly {sorted(KINDS)}"
        ) from None


def ref(obj: Mapping[str, Any]) -> ObjectRef:
    """The ObjectRef of an object dict (rendered or returned by the API server)."""
    meta = obj["metadata"]
    return ObjectRef(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])


def ref_to(kind: str, name: str, namespace: str | None = None) -> ObjectRef:
    """An ObjectRef built from a kind name via the routing table."""
    info = kind_info(kind)
    return ObjectRef(info.api_version, kind, namespace if info.namespaced else None, name)


def summary(obj: Mapping[str, Any]) -> dict[str, str]:
    """`{apiVersion, kind, name}`: how results list an object (never its data)."""
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"]}
