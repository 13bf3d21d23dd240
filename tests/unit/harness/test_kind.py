"""KindCluster without kind: pins, the rendered config and registry recipe, exact argv, the
create/delete/load lifecycle and artifact collection on a simulated failure (harness.kube.kind,
.local_registry, .artifacts, .kubectl)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as kv

from harness.kube import artifacts, kind, kubectl, local_registry
from harness.kube.commands import Completed, KindError
from harness.kube.kind import KindCluster

NAME = "gtc-run1"
REG = "gtc-run1-registry"
NODES = "gtc-run1-control-plane\ngtc-run1-worker\n"


def cluster(cmd: Any, tmp_path: Path, **kw: Any) -> KindCluster:
    kw.setdefault("registry_image", "gtc-registry:abc123")
    kw.setdefault("registry_port", 41234)
    return KindCluster(
        NAME,
        run_id="run1",
        workdir=tmp_path / "work",
        kubeconfig=tmp_path / "kubeconfig",
        runner=cmd,
        **kw,
    )


# -- pins ------------------------------------------------------------------------------------


def test_kind_and_node_image_are_pinned_by_version_checksum_and_digest() -> None:
    assert re.fullmatch(r"v\d+\.\d+\.\d+", kind.KIND_VERSION)
    assert all(re.fullmatch(r"[0-9a-f]{64}", s) for s in kind.KIND_SHA256.values())
    assert re.fullmatch(r"kindest/node:v1\.\d+\.\d+@sha256:[0-9a-f]{64}", kind.NODE_IMAGE)


# -- config and registry recipe (data) -------------------------------------------------------


def test_kind_config_pins_the_node_image_and_points_containerd_at_certs_d() -> None:
    doc = yaml.safe_load(kind.to_yaml(kind.kind_config(NAME)))
    assert doc == {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": NAME,
        "nodes": [{"role": "control-plane", "image": kind.NODE_IMAGE}],
        "containerdConfigPatches": [
            '[plugins."io.containerd.grpc.v1.cri".registry]\n'
            '  config_path = "/etc/containerd/certs.d"'
        ],
    }


def test_kind_config_with_workers_pins_every_node() -> None:
    nodes = kind.kind_config(NAME, workers=2)["nodes"]
    assert [n["role"] for n in nodes] == ["control-plane", "worker", "worker"]
    assert {n["image"] for n in nodes} == {kind.NODE_IMAGE}


def test_hosts_toml_sends_localhost_port_to_the_registry_container() -> None:
    assert local_registry.hosts_toml(REG) == '[host."http://gtc-run1-registry:5000"]\n'
    assert local_registry.hosts_dir(41234) == "/etc/containerd/certs.d/localhost:41234"


def test_local_registry_hosting_configmap_is_valid_and_names_the_port() -> None:
    cm = local_registry.registry_hosting_configmap(41234)
    assert cm["metadata"] == {"name": "local-registry-hosting", "namespace": "kube-public"}
    hosting = yaml.safe_load(cm["data"]["localRegistryHosting.v1"])
    assert hosting == {"host": "localhost:41234", "help": local_registry.REGISTRY_HELP}
    kv.validate(cm, kv.latest_version(), strict=True)


# -- command lines ---------------------------------------------------------------------------


def test_kind_command_lines_are_exact(tmp_path: Path) -> None:
    cfg, kc = tmp_path / "c.yaml", tmp_path / "kc"
    assert kind.kind_create_cmd(NAME, kind.NODE_IMAGE, cfg, kubeconfig=kc) == [
        "kind", "create", "cluster", "--name", NAME, "--image", kind.NODE_IMAGE,
        "--config", str(cfg), "--wait", "180s", "--kubeconfig", str(kc),
    ]  # fmt: skip
    assert kind.kind_create_cmd(NAME, "img", cfg)[-2:] == ["--wait", "180s"]
    assert kind.kind_delete_cmd(NAME) == ["kind", "delete", "cluster", "--name", NAME]
    assert kind.kind_load_cmd(NAME, "greentic-runtime:1a2b") == [
        "kind", "load", "docker-image", "greentic-runtime:1a2b", "--name", NAME,
    ]  # fmt: skip
    assert artifacts.kind_export_logs_cmd(NAME, tmp_path) == [
        "kind", "export", "logs", str(tmp_path), "--name", NAME,
    ]  # fmt: skip
    assert kind.kind_get_nodes_cmd(NAME) == ["kind", "get", "nodes", "--name", NAME]


def test_kubectl_always_names_its_context_and_kubeconfig(tmp_path: Path) -> None:
    assert kubectl.kubectl_cmd("kind-x", "get", "pods") == [
        "kubectl", "--context", "kind-x", "get", "pods",
    ]  # fmt: skip
    assert kubectl.kubectl_cmd("kind-x", "get", "pods", kubeconfig=tmp_path / "k") == [
        "kubectl", "--kubeconfig", str(tmp_path / "k"), "--context", "kind-x", "get", "pods",
    ]  # fmt: skip


def test_docker_command_lines_of_the_registry_recipe_are_exact() -> None:
    assert local_registry.registry_run_cmd(REG, "reg:1", 41234, run_id="run1") == [
        "docker", "run", "-d", "--name", REG, "--label", "greentic.test/run-id=run1",
        "-p", "127.0.0.1:41234:5000", "reg:1",
    ]  # fmt: skip
    assert local_registry.network_connect_cmd(REG) == ["docker", "network", "connect", "kind", REG]
    assert local_registry.write_hosts_toml_cmd("n1", 41234) == [
        "docker", "exec", "-i", "n1", "sh", "-c",
        "mkdir -p '/etc/containerd/certs.d/localhost:41234' && "
        "cat > '/etc/containerd/certs.d/localhost:41234/hosts.toml'",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("run_id", "suffix", "expected"),
    [
        ("run1", "", "gtc-run1"),
        ("Kind_Pull.0101", "gw0", "gtc-kind-pull-0101-gw0"),
        ("x" * 80, "gw1", "gtc-" + "x" * 36),
    ],
)
def test_cluster_names_follow_kind_rules(run_id: str, suffix: str, expected: str) -> None:
    name = kind.cluster_name(run_id, suffix)
    assert name == expected
    assert re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", name) and len(name) <= kind.MAX_NAME


def test_parsers() -> None:
    assert local_registry.parse_host_port("127.0.0.1:41234\n") == 41234
    assert local_registry.parse_host_port("") is None
    assert (
        local_registry.local_image_ref(5001, "greentic-runtime:ab12")
        == "localhost:5001/greentic-runtime:ab12"
    )
    assert kind.clusters_of_run(["gtc-run1", "gtc-run1-gw0", "gtc-run10", "other"], "run1") == [
        "gtc-run1",
        "gtc-run1-gw0",
    ]


# -- lifecycle through a fake runner ---------------------------------------------------------


def test_create_runs_the_registry_recipe_in_order(cmd: Any, tmp_path: Path) -> None:
    cmd.on("kind", "get", "nodes", stdout=NODES)
    kc = cluster(cmd, tmp_path)
    kc.create()
    cfg = tmp_path / "work" / f"{NAME}.kind.yaml"
    kcfg = tmp_path / "kubeconfig"
    assert cmd.argvs() == [
        local_registry.registry_run_cmd(REG, "gtc-registry:abc123", 41234, run_id="run1"),
        kind.kind_create_cmd(NAME, kind.NODE_IMAGE, cfg, kubeconfig=kcfg),
        kind.kind_get_nodes_cmd(NAME),
        local_registry.write_hosts_toml_cmd("gtc-run1-control-plane", 41234),
        local_registry.write_hosts_toml_cmd("gtc-run1-worker", 41234),
        local_registry.network_connect_cmd(REG),
        kubectl.kubectl_cmd(
            "kind-gtc-run1", "apply", "--server-side", "--field-manager", "greentic-harness",
            "-f", "-", kubeconfig=kcfg,
        ),
    ]  # fmt: skip
    assert yaml.safe_load(cfg.read_text()) == kind.kind_config(NAME)
    assert cmd.calls[3].input == cmd.calls[4].input == local_registry.hosts_toml(REG)
    assert yaml.safe_load(cmd.calls[-1].input) == local_registry.registry_hosting_configmap(41234)


def test_create_tolerates_a_registry_already_on_the_kind_network(cmd: Any, tmp_path: Path) -> None:
    cmd.on("kind", "get", "nodes", stdout="n1\n")
    cmd.on("docker", "network", "connect", rc=1, stderr="endpoint with name x already exists")
    cluster(cmd, tmp_path).create()


def test_without_a_registry_image_no_registry_is_wired(cmd: Any, tmp_path: Path) -> None:
    cluster(cmd, tmp_path, registry_image=None, registry_port=None).create()
    assert [a[:2] for a in cmd.argvs()] == [["kind", "create"]]


def test_reuse_adopts_an_existing_cluster_and_finds_its_registry_port(
    cmd: Any, tmp_path: Path
) -> None:
    cmd.on("kind", "get", "clusters", stdout=f"other\n{NAME}\n")
    cmd.on("docker", "port", stdout="127.0.0.1:45678\n")
    kc = cluster(cmd, tmp_path, reuse=True, registry_port=None)
    kc.create()
    assert kc.registry_port == 45678
    assert cmd.argvs() == [kind.kind_get_clusters_cmd(), local_registry.docker_port_cmd(REG)]


def test_a_failed_create_cleans_up_and_names_the_command(cmd: Any, tmp_path: Path) -> None:
    cmd.on("kind", "create", rc=1, stderr="ERROR: failed to create cluster: boom")
    with pytest.raises(KindError) as err, cluster(cmd, tmp_path):
        pytest.fail("the block must not run")
    assert "kind create cluster --name gtc-run1" in err.value.message
    assert "boom" in err.value.message and err.value.hint
    assert cmd.argvs()[-2:] == [
        kind.kind_delete_cmd(NAME, kubeconfig=tmp_path / "kubeconfig"),
        local_registry.docker_rm_cmd(REG),
    ]


def test_exit_deletes_unless_keep(cmd: Any, tmp_path: Path) -> None:
    with cluster(cmd, tmp_path, registry_image=None):
        pass
    assert cmd.argvs()[-1] == local_registry.docker_rm_cmd(REG)
    kept = type(cmd)()
    with cluster(kept, tmp_path, registry_image=None, keep=True):
        pass
    assert not [a for a in kept.argvs() if a[:2] in (["kind", "delete"], ["docker", "rm"])]


def test_load_image_failure_says_which_image(cmd: Any, tmp_path: Path) -> None:
    cmd.on("kind", "load", rc=1, stderr="image: 'x:1' not present locally")
    cmd.on("docker", "save", rc=1, stderr="reference does not exist")  # so no archive fallback
    with pytest.raises(KindError) as err:
        cluster(cmd, tmp_path).load_image("x:1")
    assert "kind load docker-image x:1 --name gtc-run1" in err.value.message
    assert err.value.hint == "is `x:1` built locally? (`docker image inspect x:1`)"


def test_kube_env_points_children_at_the_cluster_kubeconfig(cmd: Any, tmp_path: Path) -> None:
    env = cluster(cmd, tmp_path).kube_env({"PATH": "/bin"})
    assert env == {"PATH": "/bin", "KUBECONFIG": str(tmp_path / "kubeconfig")}


# -- artifacts on a simulated failure --------------------------------------------------------


def _items(*names: str) -> str:
    return json.dumps({"items": [{"metadata": {"name": n}} for n in names]})


def test_failure_inside_the_block_collects_artifacts_then_deletes(cmd: Any, tmp_path: Path) -> None:
    k = ["kubectl", "--kubeconfig", str(tmp_path / "kubeconfig"), "--context", "kind-gtc-run1"]
    cmd.on(*k, "get", "namespaces", stdout=_items("default", "gtc-local"))
    cmd.on(
        *k, "-n", "gtc-local", "get", "pods", stdout=_items("gtc-worker-01j-abc", "gtc-router-x")
    )
    cmd.on("kind", "export", "logs", stdout="Exported logs\n")

    def previous(argv: tuple[str, ...], _: str | None) -> Completed:
        if "--previous" in argv:
            return Completed(argv, 1, "", 'previous terminated container "worker" not found')
        return Completed(argv, 0, f"log of {argv[argv.index('logs') + 1]}\n")

    cmd.answer(*k, "-n", "gtc-local", "logs", fn=previous)
    art = tmp_path / "art"
    with pytest.raises(RuntimeError) as err, cluster(cmd, tmp_path, artifacts=art):
        raise RuntimeError("scenario failed")
    assert any("kind artifacts:" in n for n in getattr(err.value, "__notes__", []))
    files = sorted(str(p.relative_to(art)) for p in art.rglob("*") if p.is_file())
    assert files == [
        "commands.tsv",
        "events.txt",
        "get-all.txt",
        "gtc-local/describe-pods.txt",
        "gtc-local/events.txt",
        "gtc-local/logs/gtc-router-x.log",
        "gtc-local/logs/gtc-router-x.previous.log",
        "gtc-local/logs/gtc-worker-01j-abc.log",
        "gtc-local/logs/gtc-worker-01j-abc.previous.log",
        "kind-export-logs.txt",
        "networkpolicies.yaml",
    ]
    assert (
        art / "gtc-local/logs/gtc-worker-01j-abc.log"
    ).read_text() == "log of pod/gtc-worker-01j-abc\n"
    prev = (art / "gtc-local/logs/gtc-worker-01j-abc.previous.log").read_text()
    assert "# exit 1" in prev and "not found" in prev
    argvs = cmd.argvs()
    assert artifacts.kind_export_logs_cmd(NAME, art / "kind-logs") in argvs
    assert [*k, "get", "all", "-A", "-o", "wide"] in argvs
    assert [*k, "-n", "gtc-local", "describe", "pods"] in argvs
    assert [*k, "-n", "gtc-local", "logs", "pod/gtc-router-x", "--all-containers", "--prefix",
            "--timestamps", "--previous"] in argvs  # fmt: skip
    assert argvs[-2:] == [
        kind.kind_delete_cmd(NAME, kubeconfig=tmp_path / "kubeconfig"),
        local_registry.docker_rm_cmd(REG),
    ]


def test_artifact_collection_never_raises(tmp_path: Path) -> None:
    class Exploding:
        def run(self, argv: Any, **_: Any) -> Completed:
            raise OSError("kubectl vanished")

    steps = [artifacts.ArtifactStep(("kubectl", "get", "all"), "get-all.txt")]
    assert artifacts.run_artifact_steps(Exploding(), steps, tmp_path) == []  # type: ignore[arg-type]
    assert "kubectl vanished" in (tmp_path / "commands.tsv").read_text()


def test_reap_deletes_the_runs_clusters_and_labelled_containers(cmd: Any) -> None:
    cmd.on("kind", "get", "clusters", stdout="gtc-run1-gw0\ngtc-run2\n")
    cmd.on("docker", "ps", stdout="c0ffee\n")
    assert kind.reap("run1", runner=cmd) == ["gtc-run1-gw0"]
    assert cmd.argvs() == [
        kind.kind_get_clusters_cmd(),
        kind.kind_delete_cmd("gtc-run1-gw0"),
        local_registry.docker_containers_by_label_cmd("run1"),
        local_registry.docker_rm_cmd("c0ffee"),
    ]


def test_a_broken_kind_load_falls_back_to_an_image_archive(cmd: Any, tmp_path: Path) -> None:
    """Docker 29's containerd image store breaks `kind load docker-image` for some images."""
    cmd.on("kind", "load", "docker-image", rc=1, stderr="ctr: content digest sha256:ab: not found")
    kc = cluster(cmd, tmp_path)
    kc.load_image("gtc-runtime:abc")
    archive = str(tmp_path / "work" / "image-gtc-runtime_abc.tar")
    assert cmd.argvs()[-2:] == [
        ["docker", "save", "-o", archive, "gtc-runtime:abc"],
        ["kind", "load", "image-archive", archive, "--name", NAME],
    ]
