"""Wait for Deployments to finish rolling out, with a deadline and a diagnosis on timeout.

A Deployment is done when observedGeneration ≥ generation, updatedReplicas and
availableReplicas reach spec.replicas and no old replica lingers (upstream's rule). On timeout
the error names the Deployment, its first unready pod, that pod's waiting reason and its last
event. `clock`/`sleep` are injected so unit tests take no wall time. Called by reconcile.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from typing import Any

from greentic.deployer.k8s.bodies import ObjectRef
from greentic.deployer.k8s.cluster import Cluster
from greentic.deployer.k8s.errors import RolloutTimeout
from greentic.errors import GreenticError

DEFAULT_TIMEOUT = 300.0
INTERVAL = 2.0
Progress = Callable[[str], None]


def status_of(dep: Mapping[str, Any]) -> tuple[bool, str]:
    """(done, one-line detail) of a Deployment body; absent counts are 0."""
    want = int((dep.get("spec") or {}).get("replicas", 1))
    gen = int(dep.get("metadata", {}).get("generation") or 0)
    st = dep.get("status") or {}
    observed = st.get("observedGeneration")
    updated = int(st.get("updatedReplicas") or 0)
    available = int(st.get("availableReplicas") or 0)
    total = int(st.get("replicas") or 0)
    old = max(total - updated, 0)
    done = (
        observed is not None
        and int(observed) >= gen
        and updated >= want
        and total <= updated
        and available >= want
    )
    shown = observed if observed is not None else "-"
    detail = (
        f"observedGeneration {shown}/{gen}, updatedReplicas {updated}/{want}, "
        f"availableReplicas {available}/{want}, lingering old replicas {old}"
    )
    return done, detail


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _waiting(pod: Mapping[str, Any]) -> str | None:
    st = pod.get("status") or {}
    for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            message = f": {waiting['message']}" if waiting.get("message") else ""
            return f"container {cs.get('name')} waiting: {waiting['reason']}{message}"
    return None


def _event_time(event: Mapping[str, Any]) -> str:
    meta = event.get("metadata") or {}
    return str(
        event.get("lastTimestamp") or event.get("eventTime") or meta.get("creationTimestamp") or ""
    )


def diagnose(cluster: Cluster, dep: Mapping[str, Any]) -> str:
    """`pod P: <waiting reason>; last event: <reason>: <message>` (best effort)."""
    ns = dep.get("metadata", {}).get("namespace")
    match = ((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    with suppress(GreenticError):
        pods = cluster.list("Pod", namespace=ns, labels=match)
        if not pods:
            return "no pod exists yet (check its ReplicaSet and the namespace's quota)"
        pod = next((p for p in pods if not _pod_ready(p)), pods[0])
        name = pod["metadata"]["name"]
        parts = [f"pod {name}"]
        waiting = _waiting(pod)
        if waiting:
            parts.append(waiting)
        events: list[Mapping[str, Any]] = list(cluster.list("Event", namespace=ns, labels={}))
        events = [e for e in events if (e.get("involvedObject") or {}).get("name") == name]
        if events:
            last = max(events, key=_event_time)
            parts.append(f"last event: {last.get('reason')}: {last.get('message')}")
        else:
            parts.append("no events recorded for it")
        return "; ".join(parts)
    return "its pods could not be inspected"


def wait(
    cluster: Cluster,
    deployments: Sequence[ObjectRef],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = INTERVAL,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll each Deployment until done; RolloutTimeout naming the first laggard at the deadline."""
    say = progress or (lambda _msg: None)
    deadline = clock() + timeout
    pending = list(deployments)
    last_seen: dict[ObjectRef, str] = {}
    while True:
        for key in list(pending):
            dep: Mapping[str, Any] = cluster.get(key)
            done, detail = status_of(dep)
            if done:
                pending.remove(key)
                say(f"rollout: Deployment {key.name} is ready")
            elif last_seen.get(key) != detail:
                last_seen[key] = detail
                say(f"rollout: Deployment {key.name}: {detail}")
            if not done and clock() >= deadline:
                raise RolloutTimeout(
                    f"rollout of Deployment {key.name} in namespace {key.namespace} did not "
                    f"become ready within {timeout:g}s ({detail}); {diagnose(cluster, dep)}",
                    hint=f"kubectl -n {key.namespace} describe deployment {key.name}",
                )
        if not pending:
            return
        sleep(interval)
