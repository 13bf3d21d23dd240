"""The local cluster's opt-in NetworkPolicy enforcer (kube-router's firewall): its pure parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.kube.local import hostnet, kuberouter


def test_off_by_default_on_when_asked_and_a_typo_is_refused() -> None:
    assert not kuberouter.wanted({})
    assert not kuberouter.wanted({"GTC_LOCAL_NETPOL": ""})
    assert kuberouter.wanted({"GTC_LOCAL_NETPOL": "kube-router"})
    with pytest.raises(kuberouter.KubeRouterError, match="GTC_LOCAL_NETPOL=kube-router"):
        kuberouter.wanted({"GTC_LOCAL_NETPOL": "calico"})


def test_argv_runs_the_firewall_only_on_our_node_with_no_listener() -> None:
    argv = kuberouter.argv(Path("/c/kube-router"), Path("/d/kubeconfig"))
    assert argv[0] == "/c/kube-router"
    assert "--kubeconfig=/d/kubeconfig" in argv
    for flag in ("--run-firewall=true", "--run-router=false", "--run-service-proxy=false"):
        assert flag in argv
    assert "--hostname-override=greentic-local" in argv
    assert "--service-cluster-ip-range=10.96.0.0/16" in argv
    assert "--health-port=0" in argv and "--metrics-port=0" in argv


def test_its_own_cache_key_and_a_wrapper_that_requires_only_kube_router(tmp_path: Path) -> None:
    assert kuberouter.root(tmp_path) == tmp_path / "k8s" / "kube-router-v2.1.0"
    gomod = kuberouter.wrapper_gomod()
    assert "require github.com/cloudnativelabs/kube-router/v2 v2.1.0" in gomod
    assert '_ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"' in kuberouter.tools_go()


def test_our_ipsets_are_kube_routers_and_not_others() -> None:
    listing = "KUBE-SRC-GXE6BCSWVIKEFDZP\nKUBE-DST-ED6PMNBSPDIXR5BN\ndocker-allow\nf2b-sshd\n"
    assert hostnet.our_ipsets(listing) == ["KUBE-SRC-GXE6BCSWVIKEFDZP", "KUBE-DST-ED6PMNBSPDIXR5BN"]
    assert hostnet.our_ipsets("") == []
