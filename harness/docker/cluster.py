"""DockerCluster: the product's `Cluster` seam (apply/list/get/delete) with real pods behind it.

The docker track hands this to `greentic.deployer.k8s.verbs.reconcile_env`, so its applied and
pruned counts are the product's plan and reconcile, not harness bookkeeping. It behaves as an
API server plus its controllers would:

- **apply** is server-side-apply-like: content equal to what is stored changes nothing (same
  resourceVersion, no pod touched); a change bumps resourceVersion and generation; the field
  manager is recorded in `metadata.managedFields` (operation `Apply`), and an apply without
  `force` by another manager over changed content is a 409 conflict. `dry_run` answers what
  would be stored and mutates nothing.
- **list/get/delete** by kind, namespace and labels; delete honours the labels precondition
  (an object no longer carrying them is left alone); deleting a Namespace deletes its objects.
- **controllers**: apply and delete only mark the store dirty; `settle()` (and any get or list)
  then drives `Pods.sync` with everything stored, once per batch — as a ReplicaSet controller
  acts after the API write. A pod is replaced when its template or Service aliases change.
- **status**: a Deployment's status is read from its pods (ready when every pod it runs is
  Ready; replicas beyond `Pods.max_replicas` are reported as the pods that do run), enough for
  `rollout.wait` (`--wait`); `Pod` lists are the running pods, `Event` lists are empty.
- **state** survives a process restart: every mutation rewrites `state_file` (JSON, mode
  0600, under the run's work dir; it holds Secret data as the API server's etcd would). A new
  process loads it and its first settle recreates the pods (a leftover container of the same
  pod is removed first, as after a node reboot).
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from greentic.deployer.k8s.bodies import Body, ObjectRef, kind_info, ref
from greentic.deployer.k8s.cluster import error_for
from greentic.deployer.k8s.errors import ClusterError
from harness.docker import podview
from harness.docker.pods import Pods, SyncResult
from harness.errors import HarnessError

SERVER_META = ("resourceVersion", "generation", "uid", "creationTimestamp", "managedFields")
STATE_VERSION = 1


def content(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What an apply sets: everything but status and server-owned metadata."""
    out = {k: v for k, v in obj.items() if k != "status"}
    out["metadata"] = {k: v for k, v in obj["metadata"].items() if k not in SERVER_META}
    return out


def managers(obj: Mapping[str, Any] | None) -> list[str]:
    """The field managers recorded on `obj` (in order)."""
    if obj is None:
        return []
    return [str(m.get("manager")) for m in obj["metadata"].get("managedFields") or []]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _matches(obj: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    have = obj.get("metadata", {}).get("labels") or {}
    return all(have.get(k) == v for k, v in labels.items())


class DockerCluster:
    """The Cluster over `pods`, its objects kept in `state_file`. Example:

    `verbs.reconcile_env(store, "local", connect=lambda _ctx: DockerCluster(pods, state_file=p))`
    """

    def __init__(self, pods: Pods, *, state_file: Path) -> None:
        self.pods = pods
        self.state_file = state_file
        self.context = f"docker:{pods.run_id}"
        self.objects: dict[ObjectRef, Body] = {}
        self.failure: str | None = None  # the last settle's error, until one succeeds
        self._version = 0
        self._observed: dict[ObjectRef, int] = {}
        self._lock = threading.RLock()
        self._load()
        self._dirty = bool(self.objects)

    # -- state -----------------------------------------------------------------------------
    def _load(self) -> None:
        if not self.state_file.is_file():
            return
        try:
            doc = json.loads(self.state_file.read_text())
            self._version = int(doc["version"])
            self.objects = {ref(o): o for o in doc["objects"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise HarnessError(
                f"the docker cluster state {self.state_file} is unreadable ({exc})"
                "\nHint: delete it to start from an empty cluster"
            ) from None

    def _save(self) -> None:
        doc = {
            "state": STATE_VERSION,
            "version": self._version,
            "objects": [*self.objects.values()],
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        temp = self.state_file.with_name(f".{self.state_file.name}.tmp")
        temp.write_text(json.dumps(doc, sort_keys=True))
        temp.chmod(0o600)
        temp.replace(self.state_file)

    def close(self) -> None:
        """A verb's end: nothing to release (the cluster lives as long as the run's Pods)."""

    # -- the Cluster verbs -----------------------------------------------------------------
    def apply(
        self, objs: Sequence[Body], *, field_manager: str, force: bool, dry_run: bool = False
    ) -> list[Body]:
        with self._lock:
            out = [self._apply(obj, field_manager, force, dry_run) for obj in objs]
            if not dry_run and self._dirty:
                self._save()
            return out

    def _apply(self, obj: Body, manager: str, force: bool, dry_run: bool) -> Body:
        key = _checked_ref(obj)
        live = self.objects.get(key)
        owners = managers(live)
        if live is not None and content(live) == content(obj):
            if manager in owners:
                return self._view(live)
            new: Body = copy.deepcopy(live)
            owners = [*owners, manager]
        else:
            if live is not None and not force and owners and manager not in owners:
                raise error_for(
                    409,
                    f'Apply failed with 1 conflict: conflict with "{owners[0]}"',
                    what=f"applying {key}",
                )
            new = self._changed(obj, live)
            owners = [manager]
        new["metadata"]["managedFields"] = [  # type: ignore[typeddict-unknown-key]
            {"manager": m, "operation": "Apply", "apiVersion": key.api_version, "time": _now()}
            for m in owners
        ]
        self._version += 1
        new["metadata"]["resourceVersion"] = str(self._version)
        if dry_run:
            return self._view(new)
        self.objects[key] = new
        self._dirty = True
        return self._view(new)

    def _changed(self, obj: Body, live: Body | None) -> Body:
        new: Body = copy.deepcopy(obj)
        new.pop("status", None)
        meta = new["metadata"]
        old: Mapping[str, Any] = live["metadata"] if live is not None else {}
        meta["generation"] = int(old.get("generation") or 0) + 1
        meta["uid"] = str(old.get("uid") or uuid.uuid4())
        meta["creationTimestamp"] = str(  # type: ignore[typeddict-unknown-key]
            old.get("creationTimestamp") or _now()
        )
        return new

    def list(self, kind: str, *, namespace: str | None, labels: Mapping[str, str]) -> list[Body]:
        info = kind_info(kind)
        scoped = namespace if info.namespaced else None
        with self._lock:
            self._settle_quietly()
            if kind == "Pod":
                pods = podview.pod_bodies(self.pods, namespace=scoped)
                return [p for p in pods if _matches(p, labels)]
            return [
                self._view(obj)
                for key, obj in sorted(self.objects.items())
                if key.kind == kind
                and (scoped is None or key.namespace == scoped)
                and _matches(obj, labels)
            ]

    def get(self, target: ObjectRef) -> Body:
        with self._lock:
            self._settle_quietly()
            if target.kind == "Pod":
                for body in podview.pod_bodies(self.pods, namespace=target.namespace):
                    if body["metadata"]["name"] == target.name:
                        return body
            elif target in self.objects:
                return self._view(self.objects[target])
        raise error_for(404, "not found", what=f"reading {target}")

    def delete(
        self, target: ObjectRef, *, labels: Mapping[str, str] | None = None, dry_run: bool = False
    ) -> None:
        with self._lock:
            live = self.objects.get(target)
            if live is None or not _matches(live, labels or {}) or dry_run:
                return
            del self.objects[target]
            if target.kind == "Namespace":  # the namespace controller empties it
                for key in [k for k in self.objects if k.namespace == target.name]:
                    del self.objects[key]
            self._dirty = True
            self._save()

    # -- the controllers -------------------------------------------------------------------
    def settle(self) -> SyncResult:
        """Run the pods the stored objects ask for (a no-op when nothing changed since the
        last settle); the pods started, replaced and removed. Raises what the pods hit."""
        with self._lock:
            if not self._dirty and not self.pods.stale():
                return SyncResult()
            try:
                result = self.pods.sync(self.objects.values())
            except HarnessError as exc:
                self.failure = str(exc)
                raise
            self.failure = None
            self._dirty = False
            self._observed = {
                k: int(o["metadata"].get("generation") or 0)
                for k, o in self.objects.items()
                if k.kind == "Deployment"
            }
            return result

    def _settle_quietly(self) -> None:
        """Reads see the settled world; a pod error shows in status, not as a read error."""
        with contextlib.suppress(HarnessError):
            self.settle()

    def _view(self, obj: Body) -> Body:
        """A copy as the API answers it (a Deployment with its status read from its pods)."""
        out: Body = copy.deepcopy(obj)
        if obj["kind"] == "Deployment":
            observed = self._observed.get(ref(obj))
            out["status"] = podview.deployment_status(self.pods, obj, observed)
        return out


def _checked_ref(obj: Body) -> ObjectRef:
    """The ref of an object the cluster serves, or ClusterError naming what is wrong."""
    try:
        info = kind_info(obj["kind"])
    except (ValueError, KeyError) as exc:
        raise ClusterError(
            f"applying {obj.get('kind')}: the cluster does not serve it ({exc})"
        ) from None
    key = ref(obj)
    if obj["apiVersion"] != info.api_version:
        raise ClusterError(
            f"applying {key}: {key.kind} is {info.api_version}, not {key.api_version}"
        )
    if info.namespaced and not key.namespace:
        raise ClusterError(f"applying {key}: a {key.kind} needs metadata.namespace")
    return key


def state_path(work_dir: Path) -> Path:
    """Where a run keeps its docker cluster state."""
    return work_dir / "cluster-state.json"


__all__ = ["DockerCluster", "content", "managers", "state_path"]
