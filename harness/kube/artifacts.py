"""The evidence of a kind run: which commands to run (plans are data) and running them.

Cluster-wide: kind's node logs, `get all -A`, events, NetworkPolicies; per `gtc-…` namespace:
describe of its pods, each pod's logs and its previous run's. Execution never raises (evidence
collection must not mask the real failure). Called by `KindCluster.collect_artifacts`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.kube.commands import Runner
from harness.kube.kubectl import gtc_namespaces, kubectl_cmd, pod_names

EXPORT_LOGS_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class ArtifactStep:
    """One command whose output goes to `filename` under the artifacts directory."""

    argv: tuple[str, ...]
    filename: str
    timeout: float = 60.0


def kind_export_logs_cmd(name: str, dest: Path) -> list[str]:
    return ["kind", "export", "logs", str(dest), "--name", name]


def node_log_steps(name: str, kind_logs_dir: Path) -> list[ArtifactStep]:
    """kind's node logs (kubelet, containerd, the API server's): slow, so failures only."""
    export = tuple(kind_export_logs_cmd(name, kind_logs_dir))
    return [ArtifactStep(export, "kind-export-logs.txt", EXPORT_LOGS_TIMEOUT_S)]


def cluster_artifact_steps(
    name: str | None, context: str, *, kubeconfig: Path | None, kind_logs_dir: Path
) -> list[ArtifactStep]:
    """Cluster-wide evidence: kind's node logs (a kind cluster `name`), every object, every
    event, the policies."""

    def k(*args: str) -> tuple[str, ...]:
        return tuple(kubectl_cmd(context, *args, kubeconfig=kubeconfig))

    nodes = node_log_steps(name, kind_logs_dir) if name is not None else []
    return [
        *nodes,
        ArtifactStep(k("get", "all", "-A", "-o", "wide"), "get-all.txt"),
        ArtifactStep(
            k("get", "events", "-A", "--sort-by=.metadata.creationTimestamp", "-o", "wide"),
            "events.txt",
        ),
        ArtifactStep(k("get", "networkpolicies", "-A", "-o", "yaml"), "networkpolicies.yaml"),
    ]


def namespace_artifact_steps(
    context: str, namespace: str, pods: Sequence[str], *, kubeconfig: Path | None
) -> list[ArtifactStep]:
    """Per namespace: describe of its pods, then each pod's logs and its previous run's."""

    def k(*args: str) -> tuple[str, ...]:
        return tuple(kubectl_cmd(context, "-n", namespace, *args, kubeconfig=kubeconfig))

    steps = [
        ArtifactStep(k("describe", "pods"), f"{namespace}/describe-pods.txt"),
        ArtifactStep(
            k("get", "events", "--sort-by=.metadata.creationTimestamp"), f"{namespace}/events.txt"
        ),
    ]
    for pod in pods:
        logs = ("logs", f"pod/{pod}", "--all-containers", "--prefix", "--timestamps")
        steps.append(ArtifactStep(k(*logs), f"{namespace}/logs/{pod}.log"))
        steps.append(ArtifactStep(k(*logs, "--previous"), f"{namespace}/logs/{pod}.previous.log"))
    return steps


def run_artifact_steps(runner: Runner, steps: Sequence[ArtifactStep], dest: Path) -> list[Path]:
    """Run each step, write its output (stderr too when it failed); never raise."""
    written: list[Path] = []
    index: list[str] = []
    for step in steps:
        path = dest / step.filename
        try:
            result = runner.run(step.argv, timeout=step.timeout)
            text = result.stdout
            if not result.ok:
                text += f"\n# exit {result.returncode}\n{result.stderr}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
            index.append(f"{result.returncode}\t{step.filename}\t{' '.join(step.argv)}")
        except Exception as exc:  # evidence collection must never mask the real failure
            index.append(f"ERR\t{step.filename}\t{' '.join(step.argv)}\t{exc!r}")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "commands.tsv").write_text("\n".join(index) + "\n", encoding="utf-8")
    return written


def _names_or_empty(
    runner: Runner, argv: Sequence[str], pick: Callable[[Mapping[str, Any]], list[str]]
) -> list[str]:
    with contextlib.suppress(Exception):
        result = runner.run(argv, timeout=60.0)
        if result.ok:
            return list(pick(json.loads(result.stdout)))
    return []


def collect(
    runner: Runner,
    name: str | None,
    context: str,
    dest: Path,
    *,
    kubeconfig: Path | None,
    namespaces: Sequence[str] | None = None,
    node_logs: bool = True,
) -> list[Path]:
    """Every step for cluster `name` (every `gtc-…` namespace unless `namespaces` is given)
    into `dest`; `node_logs=False` skips the slow `kind export logs` (a passing run's)."""
    steps = cluster_artifact_steps(
        name, context, kubeconfig=kubeconfig, kind_logs_dir=dest / "kind-logs"
    )
    if not node_logs and name is not None:
        steps = steps[1:]

    def k(*args: str) -> list[str]:
        return kubectl_cmd(context, *args, kubeconfig=kubeconfig)

    if namespaces is None:
        namespaces = _names_or_empty(runner, k("get", "namespaces", "-o", "json"), gtc_namespaces)
    for ns in namespaces:
        pods = _names_or_empty(runner, k("-n", ns, "get", "pods", "-o", "json"), pod_names)
        steps += namespace_artifact_steps(context, ns, pods, kubeconfig=kubeconfig)
    return run_artifact_steps(runner, steps, dest)
