"""The local OCI registry with Debian's real docker-registry binary (skipped when absent)."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from harness.process import pid_alive
from harness.registry import BINARY, Registry, RegistryError, config, repository_of
from harness.waits import ProcessExited

needs_registry = pytest.mark.skipif(
    shutil.which(BINARY) is None, reason="Debian docker-registry is not installed"
)


def test_config_binds_loopback_port_zero_with_file_storage(tmp_path: Path) -> None:
    cfg = config(tmp_path / "s")
    assert cfg["http"]["addr"] == "127.0.0.1:0"  # type: ignore[index]
    assert cfg["storage"]["filesystem"]["rootdirectory"] == str(tmp_path / "s")  # type: ignore[index]


def test_pulls_count_the_repository_of_a_tag_or_digest() -> None:
    assert repository_of("greentic/webchat-bot:v1") == "greentic/webchat-bot"
    assert repository_of("greentic/bot@sha256:ab") == "greentic/bot"
    assert repository_of("greentic/bot") == "greentic/bot"


@needs_registry
def test_starts_answers_v2_and_tears_down(tmp_path: Path) -> None:
    with Registry(tmp_path / "reg", logs_dir=tmp_path / "logs", run_id="t") as reg:
        assert reg.authority.startswith("127.0.0.1:")
        assert reg.ref("greentic/x:v1") == f"oci://{reg.authority}/greentic/x:v1"
        response = httpx.get(f"http://{reg.authority}/v2/", trust_env=False)
        assert response.status_code == 200
        pid = reg.pid
        assert pid is not None
    assert not pid_alive(pid)
    assert (tmp_path / "logs" / "registry.stderr.log").read_text()


def test_a_missing_binary_names_the_package(tmp_path: Path) -> None:
    with (
        pytest.raises(RegistryError, match="apt-get install docker-registry"),
        Registry(tmp_path, logs_dir=tmp_path, binary=str(tmp_path / "nope")),
    ):
        pass


def test_a_registry_that_dies_on_start_fails_with_its_logs_attached(tmp_path: Path) -> None:
    fake = tmp_path / "docker-registry"
    fake.write_text("#!/bin/sh\necho 'level=fatal msg=\"configuration error\"' >&2\nexit 1\n")
    fake.chmod(0o755)
    with (
        pytest.raises(ProcessExited) as info,
        Registry(tmp_path / "reg", logs_dir=tmp_path, binary=str(fake)),
    ):
        pass
    assert info.value.code == 1
    assert "configuration error" in "\n".join(info.value.__notes__)
