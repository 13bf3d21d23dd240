"""A thin `KindCluster` over the kind/kubectl/docker CLIs on PATH, for the kind track (SPEC §8).

Every command line is built by a pure function (`kind_create_cmd`, `kubectl_cmd`, …) and
executed through one injectable `Runner`, so unit tests check the exact argv without kind.
The kind config (with the local-registry recipe) is data rendered to YAML. Called by the kind
track backend, `demo.py kind-up|kind-down`, the kind pytest fixtures and `harness.preflight`.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import yaml

from harness import ports
from harness.errors import HarnessError

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

RUN_LABEL = "greentic.test/run-id"
KIND_NETWORK = "kind"
REGISTRY_CONTAINER_PORT = 5000
CERTS_DIR = "/etc/containerd/certs.d"
CONTAINERD_PATCH = f'[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "{CERTS_DIR}"'
REGISTRY_HELP = "https://kind.sigs.k8s.io/docs/user/local-registry/"
CREATE_TIMEOUT_S = 600.0
COMMAND_TIMEOUT_S = 120.0
MAX_NAME = 40  # node containers are `<name>-control-plane`; hostnames stay well under 63


class KindError(HarnessError):
    """Raised when a kind/kubectl/docker command the kind track needs fails."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message + (f"\nHint: {hint}" if hint else ""))
        self.message = message
        self.hint = hint


# -- the runner seam -------------------------------------------------------------------------


@dataclass(frozen=True)
class Completed:
    """What one command did: its argv, exit code and captured text."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Runner(Protocol):
    """Runs one argv to completion. Tests pass a scripted fake; real runs use SubprocessRunner."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Completed: ...


class SubprocessRunner:
    """The real runner: `subprocess.run`, text mode; a missing binary or timeout is a Completed."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Completed:
        args = tuple(argv)
        try:
            proc = subprocess.run(
                args,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                env=dict(env) if env is not None else None,
            )
        except FileNotFoundError:
            return Completed(args, 127, "", f"{args[0]}: not found on PATH")
        except subprocess.TimeoutExpired:
            return Completed(args, 124, "", f"{args[0]}: timed out after {timeout:g}s")
        return Completed(args, proc.returncode, proc.stdout, proc.stderr)


def must(result: Completed, *, hint: str | None = None) -> Completed:
    """`result` when it succeeded, else a KindError naming the command and its stderr tail."""
    if result.ok:
        return result
    tail = (result.stderr or result.stdout).strip()[-400:]
    raise KindError(
        f"`{' '.join(result.argv)}` failed (exit {result.returncode}): {tail or 'no output'}",
        hint=hint,
    )


# -- names -----------------------------------------------------------------------------------


def cluster_name(run_id: str, suffix: str = "") -> str:
    """`gtc-<run id>[-<suffix>]`, lowercased to kind's name rules and kept short."""
    raw = "-".join(p for p in ("gtc", run_id, suffix) if p)
    name = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", raw.lower())).strip("-")
    return name[:MAX_NAME].rstrip("-")


def context_name(name: str) -> str:
    """The kubeconfig context kind writes for cluster `name`."""
    return f"kind-{name}"


def registry_name(name: str) -> str:
    """The local registry container that serves cluster `name` (on the `kind` network)."""
    return f"{name}-registry"


# -- kind config and the local-registry recipe (data) ----------------------------------------


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


def hosts_toml(registry: str, *, container_port: int = REGISTRY_CONTAINER_PORT) -> str:
    """containerd's hosts.toml for `localhost:<port>`: pull from the registry container."""
    return f'[host."http://{registry}:{container_port}"]\n'


def hosts_dir(host_port: int) -> str:
    """Where each node reads the mirror config for `localhost:<host_port>`."""
    return f"{CERTS_DIR}/localhost:{host_port}"


def registry_hosting_configmap(host_port: int) -> dict[str, Any]:
    """The `local-registry-hosting` ConfigMap (KEP-1755) that advertises the local registry."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "local-registry-hosting", "namespace": "kube-public"},
        "data": {
            "localRegistryHosting.v1": f'host: "localhost:{host_port}"\nhelp: "{REGISTRY_HELP}"\n'
        },
    }


# -- command lines (pure) --------------------------------------------------------------------


def _kubeconfig_flag(kubeconfig: Path | None) -> list[str]:
    return ["--kubeconfig", str(kubeconfig)] if kubeconfig is not None else []


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
        *_kubeconfig_flag(kubeconfig),
    ]


def kind_delete_cmd(name: str, *, kubeconfig: Path | None = None) -> list[str]:
    return ["kind", "delete", "cluster", "--name", name, *_kubeconfig_flag(kubeconfig)]


def kind_get_clusters_cmd() -> list[str]:
    return ["kind", "get", "clusters"]


def kind_get_nodes_cmd(name: str) -> list[str]:
    return ["kind", "get", "nodes", "--name", name]


def kind_load_cmd(name: str, tag: str) -> list[str]:
    return ["kind", "load", "docker-image", tag, "--name", name]


def kind_export_logs_cmd(name: str, dest: Path) -> list[str]:
    return ["kind", "export", "logs", str(dest), "--name", name]


def kind_version_cmd() -> list[str]:
    return ["kind", "version"]


def kubectl_cmd(context: str, *args: str, kubeconfig: Path | None = None) -> list[str]:
    """`kubectl [--kubeconfig K] --context C <args>`: never the user's current context."""
    return ["kubectl", *_kubeconfig_flag(kubeconfig), "--context", context, *args]


def registry_run_cmd(
    name: str, image: str, host_port: int, *, run_id: str, container_port: int = 5000
) -> list[str]:
    return [
        "docker",
        "run",
        "-d",
        "--name",
        name,
        "--label",
        f"{RUN_LABEL}={run_id}",
        "-p",
        f"127.0.0.1:{host_port}:{container_port}",
        image,
    ]


def network_connect_cmd(container: str, network: str = KIND_NETWORK) -> list[str]:
    return ["docker", "network", "connect", network, container]


def write_hosts_toml_cmd(node: str, host_port: int) -> list[str]:
    """Write stdin to `<certs.d>/localhost:<port>/hosts.toml` inside one node container."""
    directory = hosts_dir(host_port)
    return [
        "docker",
        "exec",
        "-i",
        node,
        "sh",
        "-c",
        f"mkdir -p '{directory}' && cat > '{directory}/hosts.toml'",
    ]


def docker_rm_cmd(container: str) -> list[str]:
    return ["docker", "rm", "-f", container]


def docker_port_cmd(container: str, container_port: int = REGISTRY_CONTAINER_PORT) -> list[str]:
    return ["docker", "port", container, f"{container_port}/tcp"]


def docker_containers_by_label_cmd(run_id: str) -> list[str]:
    return ["docker", "ps", "-aq", "--filter", f"label={RUN_LABEL}={run_id}"]


def docker_tag_cmd(source: str, target: str) -> list[str]:
    return ["docker", "tag", source, target]


def docker_push_cmd(tag: str) -> list[str]:
    return ["docker", "push", tag]


# -- parsing (pure) --------------------------------------------------------------------------


def parse_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse_host_port(docker_port_output: str) -> int | None:
    """The host port from `docker port` output (`127.0.0.1:41234`), None when unmapped."""
    for line in parse_lines(docker_port_output):
        match = re.search(r":(\d+)$", line)
        if match:
            return int(match.group(1))
    return None


def local_image_ref(host_port: int, tag: str) -> str:
    """`localhost:<port>/<repo>:<tag>`: how nodes address an image pushed to the local registry."""
    repo = tag.split("/")[-1]
    return f"localhost:{host_port}/{repo}"


def clusters_of_run(clusters: Iterable[str], run_id: str) -> list[str]:
    """The kind clusters a run created (named `gtc-<run id>…`)."""
    prefix = cluster_name(run_id)
    return [c for c in clusters if c == prefix or c.startswith(prefix + "-")]


# -- artifacts (plans are data; execution never raises) --------------------------------------


@dataclass(frozen=True)
class ArtifactStep:
    """One command whose output goes to `filename` under the artifacts directory."""

    argv: tuple[str, ...]
    filename: str
    timeout: float = 60.0


def gtc_namespaces(namespaces_json: Mapping[str, Any]) -> list[str]:
    """The namespaces a scenario owns (`gtc-…`) from `kubectl get ns -o json`."""
    items = namespaces_json.get("items", [])
    names = [str(i.get("metadata", {}).get("name", "")) for i in items]
    return sorted(n for n in names if n.startswith("gtc-"))


def pod_names(pods_json: Mapping[str, Any]) -> list[str]:
    return sorted(str(p["metadata"]["name"]) for p in pods_json.get("items", []))


def cluster_artifact_steps(
    name: str, context: str, *, kubeconfig: Path | None, kind_logs_dir: Path
) -> list[ArtifactStep]:
    """Cluster-wide evidence: kind's node logs, every object, every event, the policies."""

    def k(*args: str) -> tuple[str, ...]:
        return tuple(kubectl_cmd(context, *args, kubeconfig=kubeconfig))

    return [
        ArtifactStep(
            tuple(kind_export_logs_cmd(name, kind_logs_dir)), "kind-export-logs.txt", 180.0
        ),
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


# -- the cluster -----------------------------------------------------------------------------


@dataclass
class KindCluster:
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
        """Registry container → cluster → hosts.toml per node → `kind` network → ConfigMap."""
        if self.reuse and self.exists():
            self.registry_port = self.registry_port or self._discover_registry_port()
            return
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

    def __enter__(self) -> KindCluster:
        try:
            self.create()
        except BaseException as exc:
            self.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and self.artifacts is not None:
            written = self.collect_artifacts(self.artifacts)
            exc.add_note(f"kind artifacts: {self.artifacts} ({len(written)} files)")
        if not self.keep:
            self.delete()

    # -- operations --------------------------------------------------------------------------

    def nodes(self) -> list[str]:
        return parse_lines(self._must(kind_get_nodes_cmd(self.name)).stdout)

    def load_image(self, tag: str) -> None:
        """`kind load docker-image`: the node's containerd gets the exact local image."""
        self._must(
            kind_load_cmd(self.name, tag),
            timeout=CREATE_TIMEOUT_S,
            hint=f"is `{tag}` built locally? (`docker image inspect {tag}`)",
        )

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
        """`base` plus KUBECONFIG for child processes (e.g. `gtc op env reconcile`)."""
        env = dict(base)
        if self.kubeconfig is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
        return env

    def collect_artifacts(
        self, dest: Path, namespaces: Sequence[str] | None = None, *, node_logs: bool = True
    ) -> list[Path]:
        """kind logs, `get all -A`, events, policies; per gtc namespace describe + pod logs.

        `node_logs=False` skips the slow `kind export logs` (a passing run's evidence)."""
        steps = cluster_artifact_steps(
            self.name, self.context, kubeconfig=self.kubeconfig, kind_logs_dir=dest / "kind-logs"
        )
        if not node_logs:
            steps = steps[1:]
        if namespaces is None:
            namespaces = self._json_or_empty("get", "namespaces", "-o", "json", pick=gtc_namespaces)
        for ns in namespaces:
            pods = self._json_or_empty("-n", ns, "get", "pods", "-o", "json", pick=pod_names)
            steps += namespace_artifact_steps(self.context, ns, pods, kubeconfig=self.kubeconfig)
        return run_artifact_steps(self.runner, steps, dest)

    def _json_or_empty(self, *args: str, pick: Any) -> list[str]:
        with contextlib.suppress(Exception):
            result = self.runner.run(self.kubectl_argv(*args), timeout=60.0)
            if result.ok:
                return list(pick(json.loads(result.stdout)))
        return []

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
