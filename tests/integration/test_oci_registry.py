"""`gtc bundle push` to Debian's docker-registry on 127.0.0.1, then `fetch("oci://…")` back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bundle_support import (
    FIXTURES,
    REGISTRY_BINARY,
    LocalRegistry,
    no_op_sleep,
    wait_for_binary,
)
from click.testing import CliRunner

from greentic.bundle import materialize, reader
from greentic.bundle.digest import sha256_file
from greentic.cli.bundle import bundle
from greentic.errors import FetchError
from greentic.fetch import fetch
from greentic.store.envstore import Store
from tests.support.stores import new_env

BUNDLE = FIXTURES / "webchat-bot.gtbundle"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    if not wait_for_binary(REGISTRY_BINARY, timeout=300):
        pytest.skip(f"{REGISTRY_BINARY} is not installed (apt-get install docker-registry)")
    with LocalRegistry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


def push(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(bundle, ["push", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_push_then_pull_gives_the_same_bytes_and_digest(
    registry: LocalRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = f"oci://{registry.host}/bundles/webchat-bot:v1"
    code, stdout, stderr = push(str(BUNDLE), ref, "--insecure")
    assert code == 0, stderr
    pushed = json.loads(stdout)
    assert pushed["bundle_digest"] == sha256_file(BUNDLE)
    assert pushed["manifest_digest"].startswith("sha256:")

    monkeypatch.setenv("GREENTIC_OCI_INSECURE_REGISTRIES", registry.host)
    got = fetch(ref, tmp_path / "tag")
    assert got.digest == sha256_file(BUNDLE) and got.path.read_bytes() == BUNDLE.read_bytes()
    by_digest = fetch(
        f"oci://{registry.host}/bundles/webchat-bot@{pushed['manifest_digest']}", tmp_path / "dig"
    )
    assert by_digest.digest == got.digest

    manifest = httpx.get(
        f"http://{registry.host}/v2/bundles/webchat-bot/manifests/v1",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    ).json()
    assert manifest["config"] == {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        "size": 2,
    }
    assert [(layer["mediaType"], layer["digest"]) for layer in manifest["layers"]] == [
        ("application/octet-stream", sha256_file(BUNDLE))
    ]


def test_without_the_variable_the_pull_goes_over_https_and_names_it(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    code, _, stderr = push(
        str(BUNDLE), f"oci://{registry.host}/bundles/https-check:v1", "--insecure"
    )
    assert code == 0, stderr
    with pytest.raises(FetchError) as err:
        fetch(f"oci://{registry.host}/bundles/https-check:v1", tmp_path, sleep=no_op_sleep)
    message = err.value.message
    assert "this went over HTTPS" in message
    assert "list it in GREENTIC_OCI_INSECURE_REGISTRIES" in message and registry.host in message
    assert "--insecure" not in message  # a worker has no such flag
    assert list(tmp_path.iterdir()) == []


def test_push_without_insecure_goes_over_https_and_fails_clearly(registry: LocalRegistry) -> None:
    code, stdout, stderr = push(str(BUNDLE), f"oci://{registry.host}/bundles/x:v1")
    assert (code, stdout) == (1, "")
    assert (
        json.loads(stderr)["error"]["message"].startswith("pushing to ")
        and "GREENTIC_OCI_INSECURE_REGISTRIES" in stderr
        and "--insecure" in stderr
    )
    assert stderr.count("\n") == 1


def test_push_respects_the_environment_list(
    registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREENTIC_OCI_INSECURE_REGISTRIES", registry.host)
    code, _, stderr = push(
        str(FIXTURES / "perf-smoke.gtbundle"), f"oci://{registry.host}/bundles/smoke:1"
    )
    assert code == 0, stderr


def test_pull_from_registry_then_gate_and_materialize(
    registry: LocalRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v2 = FIXTURES / "webchat-bot-v2.gtbundle"
    ref = f"oci://{registry.host}/bundles/webchat-bot:v2"
    assert push(str(v2), ref, "--insecure")[0] == 0
    monkeypatch.setenv("GREENTIC_OCI_INSECURE_REGISTRIES", registry.host)
    store = Store(tmp_path / "store")
    [rev] = new_env(store, [sha256_file(v2)])
    got = fetch(ref, tmp_path / "dl")
    done = materialize.materialize_revision(store, "e1", rev, got)
    [pack] = reader.load_revision_packs(done.dir)
    assert pack.version == "2.0.0" and "webchat-bot v2" in pack.flows["main"]
