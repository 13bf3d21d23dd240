"""The local cluster's build without building: go.mod reading (staging replaces, go line,
godebug, requires), the wrapper go.mod/tools.go it writes, version ldflags, upstream tags and etcd
pin, toolchain choice and the version-keyed cache path (harness.kube.local.gomod, .build)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.kube.local import build, controlplane, gomod, pki

# The shape of k8s.io/kubernetes's go.mod: staging modules required at v0.0.0 and replaced by
# local directories, next to ordinary requires and one non-local replace that must be ignored.
UPSTREAM = """\
// generated, do not edit
module k8s.io/kubernetes

go 1.24.0

godebug default=go1.24

require (
\tgithub.com/spf13/cobra v1.8.1
\tgo.etcd.io/etcd/server/v3 v3.5.21 // indirect
\tk8s.io/api v0.0.0
\tk8s.io/client-go v0.0.0
)

require k8s.io/klog/v2 v2.130.1

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go // the client
\tgithub.com/example/fork => github.com/example/fork v1.2.3
\tk8s.io/apimachinery v0.0.0 => ./staging/src/k8s.io/apimachinery
)

replace k8s.io/kubelet => ./staging/src/k8s.io/kubelet
replace k8s.io/up => ../elsewhere/up
"""


def test_local_replaces_lists_every_directory_replace_in_blocks_and_lines() -> None:
    assert gomod.local_replaces(UPSTREAM) == [
        "k8s.io/api",
        "k8s.io/apimachinery",
        "k8s.io/client-go",
        "k8s.io/kubelet",
        "k8s.io/up",
    ]


def test_local_replaces_ignores_module_replaces_and_a_go_mod_without_any() -> None:
    assert "github.com/example/fork" not in gomod.local_replaces(UPSTREAM)
    assert gomod.local_replaces("module x\n\ngo 1.22\n") == []


def test_requirement_reads_block_and_single_line_requires() -> None:
    assert gomod.requirement(UPSTREAM, "go.etcd.io/etcd/server/v3") == "v3.5.21"
    assert gomod.requirement(UPSTREAM, "k8s.io/klog/v2") == "v2.130.1"
    assert gomod.requirement(UPSTREAM, "k8s.io/nothing") is None


def test_go_directive_and_godebug_are_read() -> None:
    assert gomod.go_directive(UPSTREAM) == "1.24.0"
    assert gomod.go_directive("module x\n") is None
    assert gomod.godebug_settings(UPSTREAM) == ["default=go1.24"]
    block = "module x\n\ngodebug (\n\tdefault=go1.21\n\tpanicnil=1 // why\n)\n"
    assert gomod.godebug_settings(block) == ["default=go1.21", "panicnil=1"]


def test_staging_version_maps_the_release_to_the_published_tag() -> None:
    assert gomod.staging_version("v1.33.13") == "v0.33.13"
    assert gomod.staging_version("v1.34.0") == "v0.34.0"


@pytest.mark.parametrize("bad", ["1.33.1", "v1.33", "v1.34.0-rc.1", "latest"])
def test_a_version_that_is_not_a_release_is_refused_with_the_fix(bad: str) -> None:
    with pytest.raises(ValueError, match=r"--version vX\.Y\.Z"):
        gomod.staging_version(bad)


def test_kubernetes_wrapper_requires_the_release_and_replaces_each_staging_module() -> None:
    staging = gomod.local_replaces(UPSTREAM)
    text = gomod.kubernetes_wrapper("v1.33.13", staging, go="1.24.0", godebug=["default=go1.24"])
    assert text == (
        "module greentic.local/k8s-build/kubernetes\n"
        "\n"
        "go 1.24.0\n"
        "\n"
        "godebug default=go1.24\n"
        "\n"
        "require k8s.io/kubernetes v1.33.13\n"
        "\n"
        "replace (\n"
        "\tk8s.io/api => k8s.io/api v0.33.13\n"
        "\tk8s.io/apimachinery => k8s.io/apimachinery v0.33.13\n"
        "\tk8s.io/client-go => k8s.io/client-go v0.33.13\n"
        "\tk8s.io/kubelet => k8s.io/kubelet v0.33.13\n"
        "\tk8s.io/up => k8s.io/up v0.33.13\n"
        ")\n"
    )
    # The wrapper itself has no directory replaces left: that is what makes `go build` accept it.
    assert gomod.local_replaces(text) == []


def test_plain_wrapper_only_requires() -> None:
    text = gomod.plain_wrapper("etcd", {"go.etcd.io/etcd/server/v3": "v3.5.24"}, go="1.24")
    assert text == (
        "module greentic.local/k8s-build/etcd\n\ngo 1.24\n\n"
        "require go.etcd.io/etcd/server/v3 v3.5.24\n"
    )


def test_tools_go_is_never_built_and_imports_each_package_once() -> None:
    text = gomod.tools_go(["b/cmd/two", "a/cmd/one", "b/cmd/two"])
    assert text.startswith("//go:build tools\n\npackage tools\n")
    assert text.count('_ "b/cmd/two"') == 1
    assert text.index("a/cmd/one") < text.index("b/cmd/two")


@pytest.mark.skipif(shutil.which("go") is None, reason="needs the go command to parse go.mod")
def test_the_wrappers_are_valid_go_mod_files(tmp_path: Path) -> None:
    wrapper = gomod.kubernetes_wrapper(
        "v1.33.13", ["k8s.io/api", "k8s.io/client-go"], go="1.24.0", godebug=["default=go1.24"]
    )
    (tmp_path / "go.mod").write_text(wrapper)
    parsed = json.loads(
        subprocess.run(
            ["go", "mod", "edit", "-json"], cwd=tmp_path, capture_output=True, check=True
        ).stdout
    )
    assert parsed["Require"] == [{"Path": "k8s.io/kubernetes", "Version": "v1.33.13"}]
    assert {r["Old"]["Path"]: r["New"]["Version"] for r in parsed["Replace"]} == {
        "k8s.io/api": "v0.33.13",
        "k8s.io/client-go": "v0.33.13",
    }
    assert parsed["GoDebug"] == [{"Key": "default", "Value": "go1.24"}]


def test_version_ldflags_set_both_version_packages_so_server_and_client_report_it() -> None:
    flags = gomod.version_ldflags("v1.33.13", commit="abc123", build_date="2026-06-11T16:59:07Z")
    assert flags.startswith("-s -w ")
    for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        assert f"-X {package}.gitVersion=v1.33.13" in flags
        assert f"-X {package}.gitMajor=1" in flags
        assert f"-X {package}.gitMinor=33" in flags
        assert f"-X {package}.gitCommit=abc123" in flags
        assert f"-X {package}.gitTreeState=clean" in flags
        assert f"-X {package}.buildDate=2026-06-11T16:59:07Z" in flags


def test_version_ldflags_leave_out_an_unknown_commit() -> None:
    flags = gomod.version_ldflags("v1.33.13", commit="", build_date="")
    assert "gitCommit" not in flags and "gitTreeState" not in flags and "buildDate" not in flags
    assert "gitVersion=v1.33.13" in flags


def test_upstream_tags_are_read_from_golang_sh_with_a_fallback() -> None:
    script = 'x\n  gotags="selinux,notest,grpcnotrace,$(echo "${GOFLAGS:-}" | sed x)"\n'
    assert gomod.upstream_tags(script) == ["selinux", "notest", "grpcnotrace"]
    assert gomod.upstream_tags("no tags here") == ["selinux", "notest"]


def test_etcd_pin_is_read_and_the_apiserver_floor_enforced() -> None:
    assert gomod.etcd_version("ETCD_VERSION=${ETCD_VERSION:-3.5.24}\n") == "v3.5.24"
    assert gomod.etcd_version("nothing") is None
    assert gomod.check_etcd("v3.5.13") == "v3.5.13"
    assert gomod.check_etcd("v3.6.5") == "v3.6.5"
    with pytest.raises(ValueError, match=r"below the apiserver's floor 3\.5\.13.*--etcd"):
        gomod.check_etcd("v3.4.23")


@pytest.mark.parametrize(
    ("directive", "local", "expected"),
    [
        ("1.24.0", "go1.26.8", None),
        ("1.26", "go1.26.0", None),
        ("1.27.1", "go1.26.8", "go1.27.1"),
        ("1.27", "go1.26.8", "go1.27.0"),
    ],
)
def test_a_toolchain_is_asked_for_only_when_the_local_go_is_older(
    directive: str, local: str, expected: str | None
) -> None:
    assert gomod.toolchain_for(directive, local) == expected


def test_the_cache_is_keyed_by_version_under_the_greentic_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GREENTIC_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert build.version_dir("v1.33.13") == tmp_path / "greentic" / "k8s" / "v1.33.13"
    monkeypatch.setenv("GREENTIC_CACHE_DIR", str(tmp_path / "own"))
    assert build.version_dir("v1.34.0") == tmp_path / "own" / "k8s" / "v1.34.0"
    with pytest.raises(ValueError):
        build.version_dir("../etc")


def test_every_kubernetes_command_and_the_addons_are_targets() -> None:
    by_name = {target.name: target for target in build.TARGETS}
    assert set(by_name) == {*build.KUBE_COMMANDS, "kubectl", "etcd", "coredns"}
    assert by_name["etcd"].package == "go.etcd.io/etcd/server/v3"
    assert by_name["kubectl"].version_args == ("version", "--client")


# -- PKI and control-plane argv (harness.kube.local.pki, .controlplane) ----------------------


def test_leaf_certs_chain_to_the_ca_with_the_names_and_usages_the_apiserver_needs() -> None:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca = pki.certificate_authority()
    serving = pki.issue(ca, "kube-apiserver", dns=["kubernetes"], ips=["127.0.0.1"], server=True)
    admin = pki.issue(ca, "greentic-admin", orgs=["system:masters"], client=True)
    ca_cert = x509.load_pem_x509_certificate(ca.cert)
    for pair in (serving, admin):
        x509.load_pem_x509_certificate(pair.cert).verify_directly_issued_by(ca_cert)
    served = x509.load_pem_x509_certificate(serving.cert)
    sans = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["kubernetes"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    usage = served.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    subject = x509.load_pem_x509_certificate(admin.cert).subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "greentic-admin"


def test_control_plane_pki_files_are_private_and_cover_the_service_ip(tmp_path: Path) -> None:
    from cryptography import x509

    files = pki.write_control_plane(tmp_path)
    for path in tmp_path.iterdir():
        assert path.stat().st_mode & 0o077 == 0, path
    served = x509.load_pem_x509_certificate(files.apiserver_cert.read_bytes())
    sans = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {
        "127.0.0.1",
        pki.SERVICE_IP,
    }
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)


def test_etcd_and_apiserver_argv_stay_on_loopback_and_agree_on_ports(tmp_path: Path) -> None:
    ports = controlplane.Ports(etcd_client=2001, etcd_peer=2002, apiserver=6443)
    etcd = controlplane.etcd_argv(tmp_path / "etcd", tmp_path / "data", ports)
    assert "--listen-client-urls=http://127.0.0.1:2001" in etcd
    assert "--initial-cluster=local=http://127.0.0.1:2002" in etcd
    files = pki.write_control_plane(tmp_path / "pki")
    api = controlplane.apiserver_argv(tmp_path / "kube-apiserver", files, ports, tmp_path / "c")
    assert "--etcd-servers=http://127.0.0.1:2001" in api
    assert "--bind-address=127.0.0.1" in api and "--secure-port=6443" in api
    assert f"--client-ca-file={files.ca}" in api
    assert f"--service-account-signing-key-file={files.sa_key}" in api
    assert "--service-cluster-ip-range=10.96.0.0/16" in api
    assert not any(arg.startswith(("--insecure", "--anonymous-auth=true")) for arg in api)


def test_kubeconfig_points_at_the_files_and_holds_no_key_material(tmp_path: Path) -> None:
    files = pki.write_control_plane(tmp_path)
    config = controlplane.kubeconfig("https://127.0.0.1:6443", files)
    assert config["current-context"] == "greentic-local"
    assert config["clusters"][0]["cluster"]["certificate-authority"] == str(files.ca)
    assert config["users"][0]["user"]["client-key"] == str(files.admin_key)
    assert "PRIVATE KEY" not in json.dumps(config)


def test_controller_manager_and_scheduler_use_their_own_identities(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    files = pki.write_control_plane(tmp_path)
    cert, _key = files.client("controller-manager")
    subject = x509.load_pem_x509_certificate(cert.read_bytes()).subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "system:kube-controller-manager"
    )
    config = controlplane.kubeconfig("https://127.0.0.1:1", files, user="scheduler")
    assert config["users"][0]["user"]["client-certificate"].endswith("scheduler.crt")
    with pytest.raises(ValueError, match="no client cert 'etcd'"):
        files.client("etcd")
    kcm = controlplane.controller_manager_argv(tmp_path / "kcm", files, tmp_path / "k.cfg", 10257)
    assert f"--cluster-signing-key-file={files.ca_key}" in kcm
    assert f"--service-account-private-key-file={files.sa_key}" in kcm
    assert "--bind-address=127.0.0.1" in kcm and "--secure-port=10257" in kcm
    scheduler = controlplane.scheduler_argv(tmp_path / "sched", tmp_path / "s.cfg", 10259)
    assert "--kubeconfig=" + str(tmp_path / "s.cfg") in scheduler
    assert "--bind-address=127.0.0.1" in scheduler
