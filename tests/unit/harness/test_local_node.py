"""The local cluster's node configs and host clean-up planning (pure parts of #15's node)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from harness.kube.local import cluster, hostnet, node, pki

DOCKER_AND_OURS = """\
-P FORWARD DROP
-N CNI-ADMIN
-N CNI-FORWARD
-N DOCKER
-N DOCKER-USER
-N KUBE-FIREWALL
-N KUBE-KUBELET-CANARY
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
-A FORWARD -j DOCKER-USER
-A FORWARD -o docker0 -j DOCKER
-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -j DROP
"""


def test_cleanup_removes_only_our_jumps_then_flushes_and_deletes_our_chains() -> None:
    commands = hostnet.iptables_cleanup("iptables", "filter", DOCKER_AND_OURS)
    deletes = [c for c in commands if "-D" in c]
    assert deletes == [
        ["iptables", "-w", "-t", "filter", "-D", "INPUT", "-j", "KUBE-FIREWALL"],
        ["iptables", "-w", "-t", "filter", "-D", "FORWARD", "-m", "comment", "--comment",
         "CNI firewall plugin rules", "-j", "CNI-FORWARD"],  # the quoted comment is one word
    ]  # fmt: skip
    flushed = [c[-1] for c in commands if "-F" in c]
    removed = [c[-1] for c in commands if "-X" in c]
    assert (
        flushed == removed == ["CNI-ADMIN", "CNI-FORWARD", "KUBE-FIREWALL", "KUBE-KUBELET-CANARY"]
    )
    assert all("DOCKER" not in " ".join(c) for c in commands)
    # every flush comes before any delete (a chain still referenced cannot be deleted)
    assert max(commands.index(c) for c in commands if "-F" in c) < min(
        commands.index(c) for c in commands if "-X" in c
    )


def test_our_chains_and_a_clean_table() -> None:
    assert hostnet.our_chains(DOCKER_AND_OURS) == [
        "CNI-ADMIN", "CNI-FORWARD", "KUBE-FIREWALL", "KUBE-KUBELET-CANARY",
    ]  # fmt: skip
    assert hostnet.iptables_cleanup("ip6tables", "nat", "-P PREROUTING ACCEPT\n-N DOCKER\n") == []


def test_mounts_under_the_cluster_dir_deepest_first() -> None:
    info = "\n".join(
        [
            "22 1 0:21 / / rw - ext4 /dev/vda rw",
            "40 22 0:40 / /tmp/greentic-local/kubelet/root rw - ext4 /dev/vda rw",
            "41 40 0:41 / /tmp/greentic-local/kubelet/root/pods/u/volumes/x/token rw - tmpfs t rw",
            "42 22 0:42 / /tmp/greentic-local-other rw - tmpfs t rw",
            "43 22 0:43 / /var/lib/docker/overlay2/a/merged rw - overlay o rw",
        ]
    )
    assert hostnet.mounts_under(info, Path("/tmp/greentic-local")) == [
        Path("/tmp/greentic-local/kubelet/root/pods/u/volumes/x/token"),
        Path("/tmp/greentic-local/kubelet/root"),
    ]


def test_containerd_config_is_our_own_instance(tmp_path: Path) -> None:
    layout = node.Layout(tmp_path)
    config = tomllib.loads(
        node.containerd_config(layout, sandbox_image="greentic.local/pause:3.10")
    )
    assert config["root"].startswith(str(tmp_path)) and config["state"].startswith(str(tmp_path))
    assert config["grpc"]["address"] == str(layout.socket)
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True  # finding 1: no CAP_SYS_RESOURCE
    assert cri["sandbox_image"] == "greentic.local/pause:3.10"
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["options"]["Root"].startswith(str(tmp_path))  # off Docker's /run/containerd/runc
    assert cri["cni"]["conf_dir"] == str(layout.cni_conf)


def test_cni_conflist_passes_dockers_forward_drop_and_allows_hairpin(tmp_path: Path) -> None:
    plugins = node.cni_conflist(node.Layout(tmp_path))["plugins"]
    assert [p["type"] for p in plugins] == ["bridge", "portmap", "firewall"]
    bridge = plugins[0]
    assert bridge["bridge"] == hostnet.BRIDGE and bridge["hairpinMode"] is True
    assert bridge["ipam"]["ranges"] == [[{"subnet": hostnet.POD_CIDR}]]
    assert bridge["ipam"]["dataDir"].startswith(str(tmp_path))


def test_kubelet_runs_on_the_node_ip_with_webhook_auth_and_no_image_gc(tmp_path: Path) -> None:
    files = pki.write_control_plane(tmp_path / "pki", address=hostnet.NODE_IP)
    config = node.kubelet_config(node.Layout(tmp_path), files, port=10250)
    assert config["address"] == hostnet.NODE_IP
    assert config["readOnlyPort"] == 0 and config["authentication"]["anonymous"]["enabled"] is False
    assert config["authorization"]["mode"] == "Webhook"
    assert config["imageGCHighThresholdPercent"] == 100
    assert config["clusterDNS"] == [node.CLUSTER_DNS]
    argv = node.kubelet_argv(Path("/b/kubelet"), node.Layout(tmp_path), Path("c"), Path("k"))
    assert f"--node-ip={hostnet.NODE_IP}" in argv
    assert f"--hostname-override={pki.NODE_NAME}" in argv


def test_apiserver_cert_covers_the_node_ip_loopback_and_the_service_ip(tmp_path: Path) -> None:
    from cryptography import x509

    files = pki.write_control_plane(tmp_path, address=hostnet.NODE_IP)
    cert = x509.load_pem_x509_certificate(files.apiserver_cert.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    assert ips == {hostnet.NODE_IP, "127.0.0.1", pki.SERVICE_IP}
    proxy_cert, _ = files.client("kube-proxy")
    subject = x509.load_pem_x509_certificate(proxy_cert.read_bytes()).subject
    assert subject.rfc4514_string() == "CN=system:kube-proxy"


def test_kube_proxy_uses_iptables_and_real_ports() -> None:
    argv = node.kube_proxy_argv(Path("/b/kube-proxy"), Path("k"), 1, 2)
    assert "--proxy-mode=iptables" in argv and "--healthz-bind-address=127.0.0.1:1" in argv


def test_state_round_trips_and_a_dead_supervisor_is_not_running(tmp_path: Path) -> None:
    state = cluster.LocalCluster(
        tmp_path, tmp_path / "kubeconfig", cluster.CONTEXT, "https://10.250.0.1:1", "/s", 999999999,
        "v1.33.13", tmp_path / "logs",
    )  # fmt: skip
    (tmp_path / cluster.STATE).write_text(__import__("json").dumps(state.to_json()))
    assert cluster.LocalCluster.from_json(tmp_path, state.to_json()) == state
    assert cluster.running(tmp_path) is None  # no such pid
    assert cluster.running(tmp_path / "absent") is None


def test_another_kubernetes_on_the_host_is_refused_not_cleaned_up() -> None:
    """`clean()` would remove k3s' or minikube's KUBE-*/CNI-* chains: only ours are cleaned."""
    theirs = ["iptables -t nat chain KUBE-SERVICES", "bridge cni0", "cgroup /a", "cgroup /b"]
    refusal = hostnet.foreign_state(theirs, ran_here=False)
    assert refusal is not None and "KUBE-SERVICES" in refusal and "and 1 more" in refusal
    assert "Stop that Kubernetes first" in refusal
    assert hostnet.foreign_state(theirs, ran_here=True) is None  # a crashed run of ours
    assert hostnet.foreign_state([], ran_here=False) is None  # a clean host
