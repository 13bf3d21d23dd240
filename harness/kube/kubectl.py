"""kubectl as data: the argv of every kubectl call the kind track makes, and what it reads back.

Pure functions only: argv builders take the `kubectl --context …` prefix (`kubectl_cmd`), so a
command never lands on the user's current context; parsers take the JSON kubectl printed. The
track, the worker, the port-forward and the artifacts run these through `commands.Runner`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORKER_CONTAINER = "worker"
RUN_LABEL = "greentic.test/run"  # on every namespace a run creates (cleanup selects on it)
REQUEST_TIMEOUT = "5s"  # a reachability check fails in seconds, not minutes


# -- command lines ---------------------------------------------------------------------------


def kubeconfig_flag(kubeconfig: Path | None) -> list[str]:
    """`--kubeconfig K` when the cluster has its own kubeconfig (kind and kubectl alike)."""
    return ["--kubeconfig", str(kubeconfig)] if kubeconfig is not None else []


def resolve_kubeconfig(
    explicit: Path | None, environ: Mapping[str, str] | None = None, home: Path | None = None
) -> str:
    """The kubeconfig file(s) kubectl would read in THIS shell, as an absolute KUBECONFIG value.

    Child processes get it explicitly: `operator_env()` moves HOME to a run directory, where
    `~/.kube/config` would name nothing (a kept cluster's `gtc op env reconcile` found no
    credentials). `explicit` wins; else `$KUBECONFIG` (a path list, kept); else ~/.kube/config."""
    if explicit is not None:
        return str(explicit.resolve())
    env = os.environ if environ is None else environ
    listed = env.get("KUBECONFIG", "")
    if listed.strip():
        parts = [str(Path(p).expanduser().resolve()) for p in listed.split(os.pathsep) if p]
        return os.pathsep.join(parts)
    return str((home or Path.home()) / ".kube" / "config")


def kubectl_cmd(context: str, *args: str, kubeconfig: Path | None = None) -> list[str]:
    """`kubectl [--kubeconfig K] --context C <args>`: never the user's current context."""
    return ["kubectl", *kubeconfig_flag(kubeconfig), "--context", context, *args]


def reachable_cmd(context: str, kubeconfig: Path | None) -> list[str]:
    """`kubectl version` with a short request timeout: does the context's API server answer?"""
    return kubectl_cmd(
        context, "version", "-o", "json", f"--request-timeout={REQUEST_TIMEOUT}",
        kubeconfig=kubeconfig,
    )  # fmt: skip


def label_selector(labels: Mapping[str, str]) -> str:
    """`k=v,k=v` in a stable order, for `-l`."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def pods_cmd(kubectl: Sequence[str], ns: str, selector: str) -> list[str]:
    return [*kubectl, "-n", ns, "get", "pods", "-l", selector, "-o", "json"]


def deployments_cmd(kubectl: Sequence[str], ns: str, selector: str) -> list[str]:
    return [*kubectl, "-n", ns, "get", "deployments", "-l", selector, "-o", "json"]


def rollout_status_cmd(
    kubectl: Sequence[str], ns: str, deployment: str, timeout_s: int
) -> list[str]:
    return [
        *kubectl,
        "-n",
        ns,
        "rollout",
        "status",
        f"deployment/{deployment}",
        f"--timeout={timeout_s}s",
    ]


def logs_cmd(
    kubectl: Sequence[str],
    ns: str,
    pod: str,
    *,
    previous: bool = False,
    container: str = WORKER_CONTAINER,
) -> list[str]:
    argv = [*kubectl, "-n", ns, "logs", f"pod/{pod}", "-c", container]
    return [*argv, "--previous"] if previous else argv


def sigterm_cmd(
    kubectl: Sequence[str], ns: str, pod: str, container: str = WORKER_CONTAINER
) -> list[str]:
    """SIGTERM to the worker's PID 1 from inside its container (python3 is in the image)."""
    code = "import os, signal; os.kill(1, signal.SIGTERM)"
    return [*kubectl, "-n", ns, "exec", pod, "-c", container, "--", "python3", "-c", code]


def cat_cmd(kubectl: Sequence[str], ns: str, pod: str, container: str, path: str) -> list[str]:
    """`kubectl exec … -- cat <path>`: one file of a container's filesystem on stdout."""
    return [*kubectl, "-n", ns, "exec", pod, "-c", container, "--", "cat", path]


def debug_read_cmd(
    kubectl: Sequence[str], ns: str, pod: str, reader: str, image: str, custom: str, path: str
) -> list[str]:
    """`kubectl debug`: an ephemeral container `reader` that mounts the pod's volumes as
    `custom` (a container-spec JSON file) says and `cat`s `path`. Restricted-PSA clean; it
    reads a volume of a crash-looping container, where `exec` finds no running container."""
    return [
        *kubectl, "-n", ns, "debug", f"pod/{pod}", "-c", reader, f"--image={image}",
        "--image-pull-policy=IfNotPresent", "--profile=restricted", f"--custom={custom}",
        "--", "cat", path,
    ]  # fmt: skip


def scheduling_events_cmd(kubectl: Sequence[str], ns: str) -> list[str]:
    """The FailedScheduling event messages of a namespace, one per line."""
    return [
        *kubectl, "-n", ns, "get", "events", "--field-selector=reason=FailedScheduling",
        "-o", "jsonpath={range .items[*]}{.message}{'\\n'}{end}",
    ]  # fmt: skip


def scheduler_hint(messages: str) -> str | None:
    """The last FailedScheduling message (of `scheduling_events_cmd`) as a hint, if any."""
    said = messages.strip().splitlines()
    return f"the scheduler said: {said[-1]} (see kubectl describe nodes)" if said else None


def reset_namespace_cmd(kubectl: Sequence[str], ns: str) -> list[str]:
    return [
        *kubectl,
        "delete",
        "namespace",
        ns,
        "--ignore-not-found",
        "--wait=true",
        "--timeout=180s",
    ]


def port_forward_cmd(
    kubectl: Sequence[str], namespace: str, pod: str, remote_port: int
) -> list[str]:
    """`<kubectl…> -n NS port-forward pod/P :REMOTE --address 127.0.0.1` (OS picks the port)."""
    return [
        *kubectl,
        "-n",
        namespace,
        "port-forward",
        f"pod/{pod}",
        f":{remote_port}",
        "--address",
        "127.0.0.1",
    ]


# -- reading kubectl's JSON ------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerState:
    """What `kubectl get pod -o json` says about one container."""

    running: bool
    ready: bool
    restarts: int
    waiting_reason: str | None
    last_exit_code: int | None


def container_state(pod: Mapping[str, Any], container: str = WORKER_CONTAINER) -> ContainerState:
    statuses = pod.get("status", {}).get("containerStatuses", [])
    status: Mapping[str, Any] = next((c for c in statuses if c.get("name") == container), {})
    state, last = status.get("state", {}), status.get("lastState", {})
    terminated = state.get("terminated") or last.get("terminated") or {}
    code = terminated.get("exitCode")
    return ContainerState(
        running="running" in state,
        ready=bool(status.get("ready")),
        restarts=int(status.get("restartCount", 0)),
        waiting_reason=(state.get("waiting") or {}).get("reason"),
        last_exit_code=int(code) if code is not None else None,
    )


def exited_code(state: ContainerState) -> int | None:
    """The worker's exit code while it is down (crash loop, terminated), else None."""
    return None if state.running else state.last_exit_code


def running_workloads(deployments_json: Mapping[str, Any]) -> list[str]:
    """Deployments with at least one available pod (`kubectl get deployments -o json`)."""
    return sorted(
        str(d["metadata"]["name"])
        for d in deployments_json.get("items", [])
        if int(d.get("status", {}).get("availableReplicas") or 0) >= 1
    )


def _created(pod: Mapping[str, Any]) -> str:
    return str(pod["metadata"].get("creationTimestamp", ""))


def newest_pod(pods_json: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The newest pod that is not terminating (a rollout's new pod), None when there is none."""
    pods = [p for p in pods_json.get("items", []) if not p["metadata"].get("deletionTimestamp")]
    pods.sort(key=_created, reverse=True)
    return pods[0] if pods else None


def _is_ready(pod: Mapping[str, Any]) -> bool:
    meta, status = pod.get("metadata", {}), pod.get("status", {})
    if meta.get("deletionTimestamp") or status.get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", [])
    )


def ready_pods(pods_json: Mapping[str, Any]) -> list[str]:
    """Names of Running, Ready, not-terminating pods, newest first (a rollout's new pod wins)."""
    pods = [p for p in pods_json.get("items", []) if _is_ready(p)]
    pods.sort(key=_created, reverse=True)
    return [str(p["metadata"]["name"]) for p in pods]


def gtc_namespaces(namespaces_json: Mapping[str, Any]) -> list[str]:
    """The namespaces a scenario owns (`gtc-…`) from `kubectl get ns -o json`."""
    items = namespaces_json.get("items", [])
    names = [str(i.get("metadata", {}).get("name", "")) for i in items]
    return sorted(n for n in names if n.startswith("gtc-"))


def pod_names(pods_json: Mapping[str, Any]) -> list[str]:
    return sorted(str(p["metadata"]["name"]) for p in pods_json.get("items", []))
