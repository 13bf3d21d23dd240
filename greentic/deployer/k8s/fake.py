"""FakeCluster: an in-memory Cluster that records every call, for tests and the harness.

Objects live in a dict keyed by ObjectRef; apply behaves like server-side apply (the
resourceVersion only moves when the content changes), Deployments report ready at once unless
`stall(ref)`ed, and `fail(ref, status)` makes the next call on `ref` answer with that Status.
Example: `cluster = FakeCluster(); reconcile.run(objs, cluster=cluster, env_id="local")`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from greentic.deployer.k8s.bodies import Body, ObjectRef, kind_info, ref
from greentic.deployer.k8s.cluster import error_for

_SERVER_META = ("resourceVersion", "generation", "uid", "creationTimestamp")


@dataclass(frozen=True)
class Call:
    verb: str
    target: ObjectRef | str
    options: Mapping[str, Any] = field(default_factory=dict)


def _content(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What an apply sets: everything but status and server-owned metadata."""
    out = {k: v for k, v in obj.items() if k != "status"}
    out["metadata"] = {k: v for k, v in obj["metadata"].items() if k not in _SERVER_META}
    return out


class FakeCluster:
    def __init__(self) -> None:
        self.objects: dict[ObjectRef, Body] = {}
        self.calls: list[Call] = []
        self.changes = 0
        self.stalled: set[ObjectRef] = set()
        self._failures: dict[ObjectRef, tuple[int, str]] = {}
        self._version = 0

    def fail(self, target: ObjectRef, status: int, message: str = "injected failure") -> None:
        self._failures[target] = (status, message)

    def stall(self, target: ObjectRef) -> None:
        self.stalled.add(target)

    def put(self, obj: Body) -> Body:
        """Store `obj` as if someone else created it (pods, events, foreign objects)."""
        self._version += 1
        stored = copy.deepcopy(obj)
        stored["metadata"]["resourceVersion"] = str(self._version)
        self.objects[ref(obj)] = stored
        return copy.deepcopy(stored)

    def _check(self, target: ObjectRef, what: str) -> None:
        if target in self._failures:
            status, message = self._failures.pop(target)
            raise error_for(status, message, what=f"{what} {target}")

    def add_namespace(self, name: str) -> None:
        """A Namespace that exists before the test (as after a first `op env reconcile`)."""
        self.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def _namespace_exists(self, key: ObjectRef) -> None:
        """As the API server: a namespaced object needs its Namespace (a dry-run one too)."""
        if key.namespace and ObjectRef("v1", "Namespace", None, key.namespace) not in self.objects:
            raise error_for(404, f'namespaces "{key.namespace}" not found', what=f"applying {key}")

    def apply(
        self, objs: Sequence[Body], *, field_manager: str, force: bool, dry_run: bool = False
    ) -> list[Body]:
        out: list[Body] = []
        for obj in objs:
            key = ref(obj)
            opts = {"field_manager": field_manager, "force": force, "dry_run": dry_run}
            self.calls.append(Call("apply", key, opts))
            self._check(key, "applying")
            self._namespace_exists(key)
            live = self.objects.get(key)
            if live is not None and _content(live) == _content(obj):
                out.append(copy.deepcopy(live))
                continue
            new = copy.deepcopy(obj)
            gen = (live["metadata"].get("generation", 0) if live else 0) + 1
            new["metadata"]["generation"] = gen
            if obj["kind"] == "Deployment":
                want = obj.get("spec", {}).get("replicas", 1)
                ready = 0 if key in self.stalled else want
                new["status"] = {
                    "observedGeneration": gen,
                    "replicas": want,
                    "updatedReplicas": want,
                    "availableReplicas": ready,
                }
            if dry_run:
                out.append(new)
                continue
            self.changes += 1
            out.append(self.put(new))
        return out

    def list(self, kind: str, *, namespace: str | None, labels: Mapping[str, str]) -> list[Body]:
        self.calls.append(Call("list", kind, {"namespace": namespace, "labels": dict(labels)}))
        scoped = namespace if kind_info(kind).namespaced else None
        return [
            copy.deepcopy(obj)
            for key, obj in sorted(self.objects.items())
            if key.kind == kind
            and (scoped is None or key.namespace == scoped)
            and all(obj["metadata"].get("labels", {}).get(k) == v for k, v in labels.items())
        ]

    def get(self, target: ObjectRef) -> Body:
        self.calls.append(Call("get", target))
        self._check(target, "reading")
        if target not in self.objects:
            raise error_for(404, "not found", what=f"reading {target}")
        return copy.deepcopy(self.objects[target])

    def delete(
        self, target: ObjectRef, *, labels: Mapping[str, str] | None = None, dry_run: bool = False
    ) -> None:
        self.calls.append(
            Call("delete", target, {"labels": dict(labels or {}), "dry_run": dry_run})
        )
        self._check(target, "deleting")
        live = self.objects.get(target)
        have = live["metadata"].get("labels", {}) if live else {}
        if live is None or any(have.get(k) != v for k, v in (labels or {}).items()):
            return
        if not dry_run:
            del self.objects[target]
            self.changes += 1
