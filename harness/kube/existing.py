"""The `existing` provider: a cluster someone else owns, used in per-run namespaces.

`Existing` checks the context answers, pushes images to `--image-registry` (a local
`kind-<name>` context loads them instead), labels every namespace with the run id and deletes
them by that label at tear-down; it never creates or deletes the cluster. The `local` provider
(`harness.kube.local.provider.Local`) is one of these whose cluster it may also start and stop.
Chosen by `harness.kube.providers.provider_for` (see its docstring for the protocol).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.closing import TearDownOnExit
from harness.kube import artifacts, netpol
from harness.kube.commands import (
    COMMAND_TIMEOUT_S,
    Completed,
    ProviderError,
    Runner,
    SubprocessRunner,
    must,
    parse_lines,
)
from harness.kube.kind import (
    CREATE_TIMEOUT_S,
    check_reachable,
    kind_get_clusters_cmd,
    kind_load_cmd,
)
from harness.kube.kubectl import RUN_LABEL, kubectl_cmd, resolve_kubeconfig
from harness.kube.local_registry import docker_push_cmd, docker_tag_cmd

# -- pure helpers ----------------------------------------------------------------------------


def run_namespace(env_id: str, run_id: str) -> str:
    """`gtc-<env>-<run id>`: an RFC 1123 label unique per run, so runs can share a cluster."""
    raw = f"gtc-{env_id}-{run_id}".lower()
    name = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", raw)).strip("-")
    return name[:63].rstrip("-")


def remote_ref(registry: str, tag: str) -> str:
    """`HOST[/PREFIX]/<repo>:<tag>` for local image `tag` (its own registry host dropped)."""
    repo_tag = tag.rsplit("/", 1)[-1] if "/" in tag else tag
    return f"{registry.rstrip('/')}/{repo_tag}"


def kind_name_of(context: str) -> str | None:
    """`gtc-demo` for context `kind-gtc-demo` (kind's naming), else None."""
    return context.removeprefix("kind-") if context.startswith("kind-") else None


# -- the existing provider -------------------------------------------------------------------


@dataclass
class Existing(TearDownOnExit):
    """A cluster the run does not own: checked, used in per-run namespaces, never deleted."""

    kube_context: str
    run_id: str
    kubeconfig: Path | None = None
    image_registry: str | None = None
    artifacts: Path | None = None
    runner: Runner = field(default_factory=SubprocessRunner)
    keep: bool = True  # the cluster is never ours to delete
    provider: str = "existing"
    _pushed: dict[str, str] = field(default_factory=dict)

    @property
    def context(self) -> str:
        return self.kube_context

    def set_up(self) -> None:
        self.check_reachable()

    def tear_down(self, exc: BaseException | None) -> None:
        """Artifacts on failure, then every namespace labelled with this run's id."""
        if exc is not None and self.artifacts is not None:
            written = self.collect_artifacts(self.artifacts)
            exc.add_note(f"cluster artifacts: {self.artifacts} ({len(written)} files)")
        self.runner.run(
            self.kubectl_argv(
                "delete", "namespace", "-l", f"{RUN_LABEL}={self.run_id}", "--wait=false",
                "--ignore-not-found",
            ),
            timeout=COMMAND_TIMEOUT_S,
        )  # fmt: skip

    def check_reachable(self) -> None:
        check_reachable(self.runner, self.context, self.kubeconfig)

    def kubectl_argv(self, *args: str) -> list[str]:
        return kubectl_cmd(self.context, *args, kubeconfig=self.kubeconfig)

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = COMMAND_TIMEOUT_S
    ) -> Completed:
        return must(self.runner.run(self.kubectl_argv(*args), timeout=timeout, input=input))

    def apply(self, objects: Sequence[Mapping[str, Any]]) -> Completed:
        text = yaml.safe_dump_all([dict(o) for o in objects], sort_keys=False)
        return self.kubectl(
            "apply", "--server-side", "--field-manager", "greentic-harness", "-f", "-", input=text
        )

    def kube_env(self, base: Mapping[str, str]) -> dict[str, str]:
        return {**base, "KUBECONFIG": resolve_kubeconfig(self.kubeconfig)}

    def image_ref(self, tag: str) -> str:
        """Pushed to `--image-registry` (once per tag); a local kind context loads instead."""
        if tag in self._pushed:
            return self._pushed[tag]
        if self.image_registry:
            ref = remote_ref(self.image_registry, tag)
            must(self.runner.run(docker_tag_cmd(tag, ref), timeout=COMMAND_TIMEOUT_S))
            pushed = self.runner.run(docker_push_cmd(ref), timeout=CREATE_TIMEOUT_S)
            must(pushed, hint=f"can this machine push to `{self.image_registry}`? (docker login)")
        elif (name := self._local_kind()) is not None:
            ref = tag
            must(self.runner.run(kind_load_cmd(name, tag), timeout=CREATE_TIMEOUT_S))
        else:
            raise ProviderError(
                f"cluster `{self.context}` cannot see this machine's image `{tag}`: pass "
                "--image-registry HOST[/PREFIX] (a registry the cluster pulls from)"
            )
        self._pushed[tag] = ref
        return ref

    def _local_kind(self) -> str | None:
        name = kind_name_of(self.context)
        if name is None:
            return None
        listed = self.runner.run(kind_get_clusters_cmd(), timeout=COMMAND_TIMEOUT_S)
        return name if listed.ok and name in parse_lines(listed.stdout) else None

    def namespace_for(self, env_id: str) -> str:
        return run_namespace(env_id, self.run_id)

    def enforces_network_policy(self, image: str) -> netpol.Detection:
        return netpol.detect_once(self.kubectl_argv(), self.runner, image, run_id=self.run_id)

    def namespace_labels(self) -> dict[str, str]:
        return {RUN_LABEL: self.run_id}

    def collect_artifacts(
        self, dest: Path, namespaces: Sequence[str] | None = None, *, node_logs: bool = True
    ) -> list[Path]:
        """kubectl evidence only (`kind export logs` needs a kind cluster)."""
        return artifacts.collect(
            self.runner, None, self.context, dest, kubeconfig=self.kubeconfig,
            namespaces=namespaces, node_logs=False,
        )  # fmt: skip
