"""Test hygiene shared by every tier: markers, a clean environment, docker/kind gating."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

MARKERS = {
    "docker": "needs a running Docker engine (GTC_REQUIRE_DOCKER=1 makes a missing engine fail)",
    "kind": "needs docker + kind + kubectl; runs the kind track (pytest -m kind)",
    "net": "reaches the real internet (real Telegram / cloudflared); never in CI",
    "slow": "takes more than a few seconds",
}

STRIPPED_ENV = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
    "KUBECONFIG",
    "GREENTIC_STORE_ROOT",
    "GREENTIC_DEV_MASTER_KEY",
    "GREENTIC_OCI_INSECURE_REGISTRIES",
    "GTC_OPERATOR_KEY_PATH",
    "OCI_USERNAME",
    "OCI_PASSWORD",
)


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")


def docker_available() -> bool:
    """True when a Docker engine answers (`docker info`)."""
    if shutil.which("docker") is None:
        return False
    try:
        return (
            subprocess.run(
                ["docker", "info"], capture_output=True, timeout=10, check=False
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def kind_available() -> bool:
    return shutil.which("kind") is not None and shutil.which("kubectl") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    markexpr = config.getoption("-m") or ""
    require_docker = os.environ.get("GTC_REQUIRE_DOCKER") == "1"
    has_docker: bool | None = None
    for item in items:
        if "net" in item.keywords and "net" not in markexpr:
            item.add_marker(pytest.mark.skip(reason="net: reaches the internet; run with -m net"))
        if "kind" in item.keywords:
            if "kind" not in markexpr:
                item.add_marker(pytest.mark.skip(reason="kind track: run with pytest -m kind"))
            elif not kind_available() and os.environ.get("GTC_REQUIRE_KIND") != "1":
                item.add_marker(pytest.mark.skip(reason="kind/kubectl not on PATH"))
        if "docker" in item.keywords:
            if has_docker is None:
                has_docker = docker_available()
            if not has_docker and not require_docker:
                item.add_marker(pytest.mark.skip(reason="skipped: no docker"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """With GTC_REQUIRE_DOCKER=1 a docker test fails (not skips) when no engine answers."""
    if (
        "docker" in item.keywords
        and os.environ.get("GTC_REQUIRE_DOCKER") == "1"
        and not docker_available()
    ):
        pytest.fail("GTC_REQUIRE_DOCKER=1 but no Docker engine answers `docker info`")
    require_kind = os.environ.get("GTC_REQUIRE_KIND") == "1"
    if "kind" in item.keywords and require_kind and not kind_available():
        pytest.fail("GTC_REQUIRE_KIND=1 but kind or kubectl is not on PATH")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Delete the kind clusters this process created (each xdist worker has its own)."""
    kind_clusters = sys.modules.get("harness.kube.clusters")
    if kind_clusters is not None:
        kind_clusters.close_session_clusters()


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Strip proxies, kubeconfig and store/secret overrides so tests never see the host's."""
    for name in STRIPPED_ENV:
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    """An empty store root for one test."""
    root = tmp_path / "store"
    root.mkdir()
    return root


@pytest.fixture
def operator_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A per-test operator key path (never the user's ~/.greentic/operator/key.pem)."""
    path = tmp_path / "operator" / "key.pem"
    monkeypatch.setenv("GTC_OPERATOR_KEY_PATH", str(path))
    return path
