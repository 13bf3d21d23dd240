"""The pods of a DockerCluster as the Kubernetes API shows them: Pod bodies, Deployment status.

Pure reads of harness.docker.pods: a Pod body carries its labels, a Ready condition and one
containerStatus per main container (restartCount, running or waiting with the pod's reason);
a Deployment's status counts its pods, so `greentic.deployer.k8s.rollout` can wait on it and
diagnose a laggard. Used by harness.docker.cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from greentic.deployer.k8s.bodies import Body
from harness.docker.pod import Pod
from harness.docker.pods import Pods


def _container_status(pod: Pod, name: str, ready: bool) -> dict[str, Any]:
    status = pod.status()
    entry = next(c for c in status["containers"] if c["name"] == name)
    running = pod.running(name)
    state: dict[str, Any] = (
        {"running": {}}
        if running
        else {"waiting": {"reason": pod.reason or "ContainerCreating", "message": pod.failure}}
    )
    if not running and not pod.failure:
        state["waiting"].pop("message")
    return {
        "name": name,
        "ready": ready and running,
        "restartCount": entry["restarts"],
        "containerID": f"docker://{entry['id']}" if entry["id"] else None,
        "state": state,
        "lastState": (
            {"terminated": {"exitCode": entry["last_exit_code"]}}
            if entry["last_exit_code"] is not None
            else {}
        ),
    }


def pod_body(pod: Pod) -> Body:
    """`kubectl get pod -o json` of one docker pod (the fields rollout and scenarios read)."""
    ready = pod.ready()
    phase = "Failed" if pod.failure else ("Running" if pod.running() else "Pending")
    body: Body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod.name, "namespace": pod.namespace, "labels": dict(pod.plan.labels)},
        "status": {
            "phase": phase,
            "reason": pod.reason,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                _container_status(pod, c.name, ready) for c in pod.plan.containers
            ],
        },
    }
    return body


def pod_bodies(pods: Pods, *, namespace: str | None) -> list[Body]:
    return [pod_body(p) for p in pods.pods(namespace=namespace)]


def deployment_status(
    pods: Pods, deployment: Mapping[str, Any], observed: int | None
) -> dict[str, Any]:
    """`status` of a Deployment from the pods running it (all Ready → every replica ready)."""
    meta = deployment["metadata"]
    running = pods.pods(namespace=meta.get("namespace"), deployment=meta["name"])
    want = int((deployment.get("spec") or {}).get("replicas", 1))
    current = want if running else 0
    ready = current if running and all(p.ready() for p in running) else 0
    status: dict[str, Any] = {
        "replicas": current,
        "updatedReplicas": current,
        "readyReplicas": ready,
        "availableReplicas": ready,
    }
    if observed is not None:
        status["observedGeneration"] = observed
    return status
