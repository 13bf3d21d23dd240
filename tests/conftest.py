"""This repository's own test hygiene: a clean environment and per-test store/key paths.

Markers, docker/kind gating and the fixtures test authors use live in the harness's pytest
plugin (harness/pytest_plugin.py), registered by the top-level conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
