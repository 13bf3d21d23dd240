"""Size: pins, names, config, argv builders and KindCluster belong together (one seam).

kind itself for the kind track (SPEC §8): the pinned release, cluster names, the cluster config,
and `KindCluster`, which creates a cluster with its local registry, loads images and deletes it.

Every command line is built by a pure function (`kind_create_cmd`, …, and the registry recipe's
in `harness.kube.local_registry`) and executed through one injectable `commands.Runner`, so unit
tests check the exact argv without kind. Called by the cluster cache (`harness.kube.clusters`),
the demo verbs, the kind pytest fixtures and `harness.preflight` (the pins).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from greentic.deployer.k8s import naming
from harness import ports
from harness.closing import TearDownOnExit
from harness.kube import artifacts, netpol
from harness.kube.commands import (
    COMMAND_TIMEOUT_S,
    ClusterUnreachable,
    Completed,
    KindError,
    Runner,
    SubprocessRunner,
    must,
    parse_lines,
)
from harness.kube.kubectl import (
    RUN_LABEL,
    kubeconfig_flag,
    kubectl_cmd,
    reachable_cmd,
    resolve_kubeconfig,
)
from harness.kube.local_registry import (
    CONTAINERD_PATCH,
    docker_containers_by_label_cmd,
    docker_port_cmd,
    docker_push_cmd,
    docker_rm_cmd,
    docker_tag_cmd,
    hosts_toml,
    local_image_ref,
    network_connect_cmd,
    parse_host_port,
    registry_hosting_configmap,
    registry_name,
    registry_run_cmd,
    write_hosts_toml_cmd,
)

# -- pins ------------------------------------------------------------------------------------
# kind v0.29.0 and the node image its release notes list for Kubernetes 1.33 (by digest). The
# checksum and digest were taken from several independent public repos that pin this release;
# they were not fetched from the release page here (kind.yml's `sha256sum -c` is the check).
# kindnet enforces NetworkPolicy since kind v0.24, which the kind track relies on (seeds/001 §07).
KIND_VERSION = "v0.29.0"
KIND_SHA256 = {
    "linux-amd64": "c72eda46430f065fb45c5f70e7c957cc9209402ef309294821978677c8fb3284",
    "linux-arm64": "03d45095dbd9cc1689f179a3e5e5da24b77c2d1b257d7645abf1b4174bebcf2a",
}
KIND_DOWNLOAD = (
    "https://github.com/kubernetes-sigs/kind/releases/download/{version}/kind-{platform}"
)
NODE_IMAGE = (
    "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f"
)

CREATE_TIMEOUT_S = 600.0
REACHABLE_TIMEOUT_S = 15.0
MAX_NAME = 40  # node containers are `<name>-control-plane`; hostnames stay well under 63


# -- names -----------------------------------------------------------------------------------


def cluster_name(run_id: str, suffix: str = "") -> str:
    """`gtc-<run id>[-<suffix>]`, lowercased to kind's name rules and kept short."""
    raw = "-".join(p for p in ("gtc", run_id, suffix) if p)
    name = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", raw.lower())).strip("-")
    return name[:MAX_NAME].rstrip("-")


def context_name(name: str) -> str:
    """The kubeconfig context kind writes for cluster `name`."""
    return f"kind-{name}"


# -- the kind config (data) ------------------------------------------------------------------


def kind_config(name: str, *, node_image: str = NODE_IMAGE, workers: int = 0) -> dict[str, Any]:
    """The kind `Cluster` config: pinned node image and containerd reading certs.d hosts.toml."""
    nodes = [{"role": "control-plane", "image": node_image}]
    nodes += [{"role": "worker", "image": node_image} for _ in range(workers)]
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": name,
        "nodes": nodes,
        "containerdConfigPatches": [CONTAINERD_PATCH],
    }


def to_yaml(doc: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(doc), sort_keys=False, default_flow_style=False)


# -- command lines (pure) --------------------------------------------------------------------


def kind_create_cmd(
    name: str,
    image: str,
    config_path: Path,
    *,
    kubeconfig: Path | None = None,
    wait: str = "180s",
) -> list[str]:
    return [
        "kind",
        "create",
        "cluster",
        "--name",
        name,
        "--image",
        image,
        "--config",
        str(config_path),
        "--wait",
        wait,
        *kubeconfig_flag(kubeconfig),
    ]


def kind_delete_cmd(name: str, *, kubeconfig: Path | None = None) -> list[str]:
    return ["kind", "delete", "cluster", "--name", name, *kubeconfig_flag(kubeconfig)]


def kind_get_clusters_cmd() -> list[str]:
    return ["kind", "get", "clusters"]


def kind_get_nodes_cmd(name: str) -> list[str]:
    return ["kind", "get", "nodes", "--name", name]


def kind_load_cmd(name: str, tag: str) -> list[str]:
    return ["kind", "load", "docker-image", tag, "--name", name]


def kind_load_archive_cmd(name: str, archive: Path) -> list[str]:
    return ["kind", "load", "image-archive", str(archive), "--name", name]


def kind_version_cmd() -> list[str]:
    return ["kind", "version"]


def check_reachable(runner: Runner, context: str, kubeconfig: Path | None) -> None:
    """One `kubectl version` bounded to seconds; ClusterUnreachable in one line otherwise."""
    result = runner.run(reachable_cmd(context, kubeconfig), timeout=REACHABLE_TIMEOUT_S)
    if result.ok and '"serverVersion"' in result.stdout:
        return
    text = (result.stderr or result.stdout).strip()
    why = text.splitlines()[-1][:240] if text else f"exit {result.returncode}"
    where = f" (kubeconfig {kubeconfig})" if kubeconfig is not None else ""
    raise ClusterUnreachable(
        f"kube context `{context}`{where} is not reachable: {why} — check "
        f"`kubectl --context {context} cluster-info`, or pass another --kube-context"
    )


def clusters_of_run(clusters: Iterable[str], run_id: str) -> list[str]:
    """The kind clusters a run created (named `gtc-<run id>…`)."""
    prefix = cluster_name(run_id)
    return [c for c in clusters if c == prefix or c.startswith(prefix + "-")]


# -- the cluster -----------------------------------------------------------------------------


@dataclass
class KindCluster(TearDownOnExit):
    """A kind cluster with a local registry, created on enter and deleted on exit.

    Example::

        with KindCluster(cluster_name(run_id), run_id=run_id, workdir=tmp,
                         kubeconfig=tmp / "kubeconfig", artifacts=art) as kc:
            kc.load_image(runtime_tag)
            kc.kubectl("get", "nodes")

    On a failure inside the block, evidence is written to `artifacts` first; `keep=True`
    (`--keep`) leaves the cluster and its registry running. `reuse=True` adopts a cluster of
    the same name that already exists (demo `kind-up` then `kind-pull`).
    """

    name: str
    run_id: str
    workdir: Path
    kubeconfig: Path | None = None
    node_image: str = NODE_IMAGE
    registry_image: str | None = None
    artifacts: Path | None = None
    keep: bool = False
    reuse: bool = False
    runner: Runner = field(default_factory=SubprocessRunner)
    registry_port: int | None = None
    _loaded: set[str] = field(default_factory=set)
    _evidence_written: bool = False

    provider = "kind"  # harness.kube.providers.Provider

    @property
    def context(self) -> str:
        return context_name(self.name)

    @property
    def registry(self) -> str:
        return registry_name(self.name)

    # -- lifecycle ---------------------------------------------------------------------------

    def exists(self) -> bool:
        result = self.runner.run(kind_get_clusters_cmd(), timeout=COMMAND_TIMEOUT_S)
        return result.ok and self.name in parse_lines(result.stdout)

    def create(self) -> None:
        """Registry container → cluster → hosts.toml per node → `kind` network → ConfigMap.

        When kind or the registry wiring fails, `kind export logs` goes to `artifacts` first
        (noted on the error): a failed create is the run most in need of node logs."""
        if self.reuse and self.exists():
            self.registry_port = self.registry_port or self._discover_registry_port()
            return
        try:
            self._create()
        except KindError as exc:
            if self.artifacts is not None:
                written = artifacts.run_artifact_steps(
                    self.runner,
                    artifacts.node_log_steps(self.name, self.artifacts / "kind-logs"),
                    self.artifacts,
                )
                exc.add_note(f"kind node logs: {self.artifacts} ({len(written)} files)")
                self._evidence_written = True
            raise

    def _create(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / f"{self.name}.kind.yaml"
        config_path.write_text(to_yaml(kind_config(self.name, node_image=self.node_image)))
        if self.registry_image is not None:
            if self.registry_port is None:
                self.registry_port = ports.free_port()
            self._must(
                registry_run_cmd(
                    self.registry, self.registry_image, self.registry_port, run_id=self.run_id
                )
            )
        self._must(
            kind_create_cmd(self.name, self.node_image, config_path, kubeconfig=self.kubeconfig),
            timeout=CREATE_TIMEOUT_S,
            hint="see `kind create cluster` output above; `python demo.py doctor` checks the host",
        )
        if self.registry_port is not None:
            self._wire_registry(self.registry_port)

    def _wire_registry(self, host_port: int) -> None:
        for node in self.nodes():
            self._must(write_hosts_toml_cmd(node, host_port), input=hosts_toml(self.registry))
        connect = self.runner.run(network_connect_cmd(self.registry), timeout=COMMAND_TIMEOUT_S)
        if not connect.ok and "already exists" not in connect.stderr:
            must(connect)
        self.apply([registry_hosting_configmap(host_port)])

    def _discover_registry_port(self) -> int | None:
        result = self.runner.run(docker_port_cmd(self.registry), timeout=COMMAND_TIMEOUT_S)
        return parse_host_port(result.stdout) if result.ok else None

    def delete(self) -> None:
        """Delete the cluster and its registry container (both fine when already absent)."""
        self.runner.run(
            kind_delete_cmd(self.name, kubeconfig=self.kubeconfig), timeout=CREATE_TIMEOUT_S
        )
        self.runner.run(docker_rm_cmd(self.registry), timeout=COMMAND_TIMEOUT_S)

    def set_up(self) -> None:
        self.create()

    def tear_down(self, exc: BaseException | None) -> None:
        """On a failure, its artifacts (noted on the error) first; then delete unless `keep`."""
        if exc is not None and self.artifacts is not None and not self._evidence_written:
            written = self.collect_artifacts(self.artifacts)
            exc.add_note(f"kind artifacts: {self.artifacts} ({len(written)} files)")
        if not self.keep:
            self.delete()

    # -- operations --------------------------------------------------------------------------

    def nodes(self) -> list[str]:
        return parse_lines(self._must(kind_get_nodes_cmd(self.name)).stdout)

    def load_image(self, tag: str) -> None:
        """`kind load docker-image`: the node's containerd gets the exact local image.

        Docker 29's containerd image store breaks `kind load docker-image` for some images
        (the saved archive lacks layers the node expects); then `docker save` to a file and
        `kind load image-archive` it, which does not depend on that store."""
        first = self.runner.run(kind_load_cmd(self.name, tag), timeout=CREATE_TIMEOUT_S)
        if first.ok:
            return
        archive = self.workdir / f"image-{re.sub(r'[^A-Za-z0-9_.-]', '_', tag)}.tar"
        self.workdir.mkdir(parents=True, exist_ok=True)
        hint = f"is `{tag}` built locally? (`docker image inspect {tag}`)"
        saved = self.runner.run(
            ["docker", "save", "-o", str(archive), tag], timeout=CREATE_TIMEOUT_S
        )
        if not saved.ok:  # not a store problem: the image is not there (say what kind said)
            must(first, hint=hint)
        try:
            self._must(kind_load_archive_cmd(self.name, archive), timeout=CREATE_TIMEOUT_S)
        finally:
            archive.unlink(missing_ok=True)

    def image_ref(self, tag: str) -> str:
        """Provider: `kind load` once per tag; pods name the local tag itself."""
        if tag not in self._loaded:
            self.load_image(tag)
            self._loaded.add(tag)
        return tag

    def check_reachable(self) -> None:
        """Provider: ClusterUnreachable (one line) unless the API server answers in seconds."""
        check_reachable(self.runner, self.context, self.kubeconfig)

    def enforces_network_policy(self, image: str) -> netpol.Detection:
        """Provider: the NetworkPolicy probe with busybox `image`, once per cluster."""
        return netpol.detect_once(self.kubectl_argv(), self.runner, image, run_id=self.run_id)

    def namespace_for(self, env_id: str) -> str:
        """Provider: `gtc-<env>` (a kind cluster is one run's, or the demo's)."""
        return naming.namespace_for_env(env_id)

    def namespace_labels(self) -> dict[str, str]:
        return {RUN_LABEL: self.run_id}

    def push_image(self, tag: str) -> str:
        """Push a local image to the cluster's registry; return the ref pods should use."""
        if self.registry_port is None:
            raise KindError(
                f"cluster `{self.name}` has no local registry", hint="pass registry_image="
            )
        ref = local_image_ref(self.registry_port, tag)
        self._must(docker_tag_cmd(tag, ref))
        self._must(docker_push_cmd(ref), timeout=CREATE_TIMEOUT_S)
        return ref

    def kubectl_argv(self, *args: str) -> list[str]:
        return kubectl_cmd(self.context, *args, kubeconfig=self.kubeconfig)

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = COMMAND_TIMEOUT_S
    ) -> Completed:
        return self._must(self.kubectl_argv(*args), input=input, timeout=timeout)

    def apply(self, objects: Sequence[Mapping[str, Any]]) -> Completed:
        """`kubectl apply --server-side` of plain object dicts (fixtures, not the product)."""
        text = yaml.safe_dump_all([dict(o) for o in objects], sort_keys=False)
        return self.kubectl(
            "apply", "--server-side", "--field-manager", "greentic-harness", "-f", "-", input=text
        )

    def kube_env(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` plus an explicit KUBECONFIG for child processes (`gtc op env reconcile`):
        the cluster's own file, or — a kept cluster, written where kind writes by default —
        the one this shell's kubectl reads, resolved before `operator_env` moved HOME."""
        return {**base, "KUBECONFIG": resolve_kubeconfig(self.kubeconfig)}

    def collect_artifacts(
        self, dest: Path, namespaces: Sequence[str] | None = None, *, node_logs: bool = True
    ) -> list[Path]:
        """kind logs, `get all -A`, events, policies; per gtc namespace describe + pod logs.

        `node_logs=False` skips the slow `kind export logs` (a passing run's evidence)."""
        return artifacts.collect(
            self.runner,
            self.name,
            self.context,
            dest,
            kubeconfig=self.kubeconfig,
            namespaces=namespaces,
            node_logs=node_logs,
        )

    def _must(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        timeout: float = COMMAND_TIMEOUT_S,
        hint: str | None = None,
    ) -> Completed:
        return must(self.runner.run(argv, timeout=timeout, input=input), hint=hint)


def reap(run_id: str, *, runner: Runner | None = None) -> list[str]:
    """Delete every kind cluster and labelled container a run left behind; return the names."""
    runner = runner or SubprocessRunner()
    listed = runner.run(kind_get_clusters_cmd(), timeout=COMMAND_TIMEOUT_S)
    gone = clusters_of_run(parse_lines(listed.stdout), run_id) if listed.ok else []
    for name in gone:
        runner.run(kind_delete_cmd(name), timeout=CREATE_TIMEOUT_S)
    containers = runner.run(docker_containers_by_label_cmd(run_id), timeout=COMMAND_TIMEOUT_S)
    for cid in parse_lines(containers.stdout) if containers.ok else []:
        runner.run(docker_rm_cmd(cid), timeout=COMMAND_TIMEOUT_S)
    return gone
