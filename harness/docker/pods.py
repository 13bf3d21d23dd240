"""Run rendered Kubernetes objects as Docker pods: the container work behind the DockerCluster.

`Pods.sync(objects)` makes the pods match the complete set of objects the cluster holds: one
pod (harness.docker.pod) per Deployment replica (at most `max_replicas`), started when new,
replaced when its template or Service aliases changed, removed when its Deployment is gone;
a kept pod gets its ConfigMap/Secret files rewritten. What is applied or pruned is the
cluster's business (harness.docker.cluster), not this module's. `reap(run_id)` and
`python -m harness.docker.pods list|reap` remove what a run left behind.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import reap as reaper
from harness.closing import CloseOnExit
from harness.docker import engine, podspec, presets
from harness.docker.engine import (
    CONTAINER_LABEL,
    DEPLOYMENT_LABEL,
    NAMESPACE_LABEL,
    POD_LABEL,
    ROLE_LABEL,
    RUN_LABEL,
    PodNotReady,
    PodsError,
)
from harness.docker.pod import Pod
from harness.docker.podspec import Backoff, Obj, PodPlan, PodSpecError

SANDBOX_IMAGE = "busybox:1.36.1"
POLL_S = 0.2
GRACE_S = 5.0

__all__ = [
    "CONTAINER_LABEL",
    "DEPLOYMENT_LABEL",
    "NAMESPACE_LABEL",
    "POD_LABEL",
    "ROLE_LABEL",
    "RUN_LABEL",
    "Backoff",
    "Pod",
    "PodNotReady",
    "PodSpecError",
    "Pods",
    "PodsError",
    "SyncResult",
    "reap",
]


@dataclass(frozen=True)
class SyncResult:
    """Deployments whose pods one `sync` started, replaced (pod template or aliases changed)
    or removed (no longer in the objects)."""

    started: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.started or self.replaced or self.removed)

    def to_json(self) -> dict[str, Any]:
        return {
            "started": list(self.started),
            "replaced": list(self.replaced),
            "removed": list(self.removed),
        }


class Pods(CloseOnExit):
    """Rendered objects as Docker pods, labelled `greentic.test/run-id=<run_id>`.

    Example:
        with Pods(run_id, work_dir=tmp / "pods", logs_dir=artifacts / "pods") as pods:
            pods.sync(objects)  # usually called by DockerCluster, with all it holds
            pods.pod("gtc-router").wait_ready(60)

    One pod per Deployment by default (`max_replicas=1`: the router's 2 replicas would only
    double the boot work on one engine). Leaving the `with` removes everything unless `keep`.
    """

    def __init__(
        self,
        run_id: str,
        *,
        work_dir: Path,
        logs_dir: Path | None = None,
        keep: bool = False,
        backoff: Backoff | None = None,
        max_replicas: int = 1,
        sandbox_image: str = SANDBOX_IMAGE,
        poll_s: float = POLL_S,
        grace_s: float = GRACE_S,
    ) -> None:
        self.run_id = run_id
        self.work_dir = work_dir
        self.logs_dir = logs_dir
        self.keep = keep
        self.backoff = backoff or Backoff()
        self.max_replicas = max_replicas
        self.sandbox_image = sandbox_image
        self.poll_s = poll_s
        self.grace_s = grace_s
        self._client: Any = None
        self._pods: dict[tuple[str, str, int], Pod] = {}
        self._networks: dict[str, str] = {}
        # test-only env for matching pods (harness.docker.presets); set before the first sync
        self.presets: list[presets.PodPreset] = []

    # -- lifecycle -----------------------------------------------------------------------------
    def open(self) -> None:
        """Connect to the engine (`with Pods(...)` does it); `close()` undoes it."""
        self._client = engine.client()
        self.work_dir.mkdir(parents=True, exist_ok=True)

    @property
    def api(self) -> Any:
        if self._client is None:
            raise RuntimeError("Pods is not open (use it as a context manager)")
        return self._client.api

    def close(self) -> None:
        """Remove every pod and network of this run (unless keep); statuses to the artifacts."""
        if self._client is None:
            return
        if self.keep:
            for pod in self._pods.values():
                self.write_json(f"{pod.namespace}/{pod.name}/status.json", pod.status())
        else:
            for pod in list(self._pods.values()):
                try:
                    pod.delete()
                except Exception as exc:  # keep going: the run's label sweep gets the rest
                    self.write_text(f"{pod.namespace}/{pod.name}/delete-failed.txt", f"{exc}\n")
            self._pods.clear()
            for network in self._networks.values():
                with contextlib.suppress(Exception):
                    self.api.remove_network(network)
            self._networks.clear()
        self._client.close()
        self._client = None

    # -- artifacts -----------------------------------------------------------------------------
    def write_text(self, rel: str, text: str) -> None:
        if self.logs_dir is None:
            return
        target = self.logs_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def write_json(self, rel: str, doc: Any) -> None:
        self.write_text(rel, json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")

    # -- networks ------------------------------------------------------------------------------
    def network_name(self, namespace: str) -> str:
        return f"{self.run_id}.{namespace}"

    def ensure_network(self, namespace: str) -> str:
        """The run's bridge network for `namespace` (Service aliases are scoped to it); one an
        earlier process of this run created is reused."""
        if namespace in self._networks:
            return self._networks[namespace]
        name = self.network_name(namespace)
        hint = (
            "if Docker ran out of address pools, remove stale runs: "
            "`.venv/bin/python -m harness.docker.pods reap --all` (or `docker network prune`)"
        )
        with engine.docker_errors(f"create network {name}", hint):
            if not any(n.get("Name") == name for n in self.api.networks(names=[name])):
                self.api.create_network(
                    name,
                    driver="bridge",
                    labels={RUN_LABEL: self.run_id, NAMESPACE_LABEL: namespace},
                )
        self._networks[namespace] = name
        return name

    # -- sync ----------------------------------------------------------------------------------
    def sync(self, objects: Iterable[Obj]) -> SyncResult:
        """Make the pods match `objects` (everything the cluster holds): start new pods, replace
        those whose template (or Service aliases) changed, remove those no longer rendered."""
        plans = {
            plan.key: presets.apply(plan, self.presets)
            for plan in podspec.pod_plans(podspec.index(objects), max_replicas=self.max_replicas)
        }
        replaced: list[str] = []
        removed: list[str] = []
        for key, pod in list(self._pods.items()):
            plan = plans.get(key)
            if plan is not None and plan.identity == pod.plan.identity and not pod.terminated:
                pod.refresh(plan)
                continue
            pod.delete()
            del self._pods[key]
            (removed if plan is None else replaced).append(pod.deployment)
        started: list[str] = []
        for key, plan in plans.items():
            if key in self._pods:
                continue
            self._start(key, plan)
            if plan.deployment not in replaced:
                started.append(plan.deployment)
        return SyncResult(started=tuple(started), replaced=tuple(replaced), removed=tuple(removed))

    def _start(self, key: tuple[str, str, int], plan: PodPlan) -> None:
        pod = Pod(self, plan)
        self._pods[key] = pod
        try:
            pod.create()
        except BaseException:
            pod.delete()
            del self._pods[key]
            raise

    # -- queries -------------------------------------------------------------------------------
    def pods(self, *, namespace: str | None = None, deployment: str | None = None) -> list[Pod]:
        return [
            p
            for p in self._pods.values()
            if (namespace is None or p.namespace == namespace)
            and (deployment is None or p.deployment == deployment)
        ]

    def pod(self, deployment: str, *, namespace: str | None = None) -> Pod:
        """The (first) pod of `deployment`; PodsError when it has none."""
        found = self.pods(namespace=namespace, deployment=deployment)
        if not found:
            have = ", ".join(sorted({p.deployment for p in self._pods.values()})) or "none"
            raise PodsError(f"no pod runs Deployment {deployment} (running: {have})")
        return found[0]

    def stale(self) -> bool:
        """Some pod was stopped (`Pod.stop`): the next sync replaces it, as a Deployment
        recreates a deleted pod."""
        return any(p.terminated for p in self._pods.values())

    def current(self, pod: Pod) -> bool:
        """`pod` is still one of this set's pods (not deleted or replaced)."""
        return any(p is pod for p in self._pods.values()) and not pod.terminated


# -- the sweep ---------------------------------------------------------------------------------


def reap(run_id: str) -> list[str]:
    """Remove every container, volume and network labelled with `run_id`; what was removed."""
    try:
        import docker

        client = docker.from_env(timeout=60)
        client.ping()
    except Exception:  # no SDK or no engine: nothing of ours can be running
        return []
    removed: list[str] = []
    label = {"label": f"{RUN_LABEL}={run_id}"}
    try:
        for container in client.containers.list(all=True, filters=label):
            with contextlib.suppress(Exception):
                container.remove(force=True)
                removed.append(f"container {container.name}")
        for volume in client.volumes.list(filters=label):
            with contextlib.suppress(Exception):
                volume.remove(force=True)
                removed.append(f"volume {volume.name}")
        for network in client.networks.list(filters=label):
            with contextlib.suppress(Exception):
                network.remove()
                removed.append(f"network {network.name}")
    finally:
        client.close()
    return removed


def run_ids() -> list[str]:
    """Run ids that still own containers, volumes or networks on this engine."""
    client = engine.client()
    try:
        label = {"label": RUN_LABEL}
        found = {c.labels.get(RUN_LABEL) for c in client.containers.list(all=True, filters=label)}
        found |= {
            n.attrs.get("Labels", {}).get(RUN_LABEL) for n in client.networks.list(filters=label)
        }
        found |= {
            (v.attrs.get("Labels") or {}).get(RUN_LABEL) for v in client.volumes.list(filters=label)
        }
    finally:
        client.close()
    return sorted(r for r in found if r)


reaper.register(reap)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m harness.docker.pods reap RUN_ID… | --all`: remove what kept runs left."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m harness.docker.pods", description=main.__doc__)
    parser.add_argument("verb", choices=["reap", "list"])
    parser.add_argument("run_ids", nargs="*")
    parser.add_argument("--all", action="store_true", help="every run id found on the engine")
    args = parser.parse_args(argv)
    try:
        found = run_ids()
    except PodsError as exc:
        print(f"error: {exc}")
        return 1
    if args.verb == "list":
        print("\n".join(found) or "no pods of any run")
        return 0
    targets = found if args.all else list(args.run_ids)
    if not targets:
        print("nothing to reap (name run ids, or --all)")
        return 0
    for run_id in targets:
        for removed in reap(run_id):
            print(f"{run_id}: removed {removed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
