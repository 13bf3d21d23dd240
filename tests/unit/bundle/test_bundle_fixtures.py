"""The committed fixture bundles are deterministic rebuilds of fixtures/bundles/src/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bundle_testlib import FIXTURES

from greentic.bundle import reader
from greentic.bundle.build import build_bundle_dir
from greentic.bundle.digest import sha256_file

NAMES = ("perf-smoke", "webchat-bot", "webchat-bot-v2")


@pytest.mark.parametrize("name", NAMES)
def test_building_twice_gives_identical_bytes(name: str, tmp_path: Path) -> None:
    a = build_bundle_dir(FIXTURES / "src" / name, tmp_path / "a" / f"{name}.gtbundle")
    b = build_bundle_dir(FIXTURES / "src" / name, tmp_path / "b" / f"{name}.gtbundle")
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.digest == b.digest == sha256_file(a.path)


def test_digests_json_matches_a_rebuild(tmp_path: Path) -> None:
    out = tmp_path / "out"
    subprocess.run(
        [sys.executable, str(FIXTURES / "build.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    committed = json.loads((FIXTURES / "digests.json").read_text())
    rebuilt = json.loads((out / "digests.json").read_text())
    assert committed == rebuilt
    assert sorted(committed) == sorted(f"{n}.gtbundle" for n in NAMES)
    for file_name, digest in committed.items():
        assert (FIXTURES / file_name).read_bytes() == (out / file_name).read_bytes()
        assert sha256_file(FIXTURES / file_name) == digest


def test_check_mode_passes_on_the_committed_tree() -> None:
    done = subprocess.run(
        [sys.executable, str(FIXTURES / "build.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_fixture_shapes() -> None:
    smoke = reader.read_bundle(FIXTURES / "perf-smoke.gtbundle")
    assert smoke.manifest.format_version == "gtbundle-v1"
    [pack] = smoke.packs.values()
    assert [f.id for f in pack.manifest.flows] == ["main"]
    assert "nodes: {}" in pack.flows["main"]

    v1 = reader.read_bundle(FIXTURES / "webchat-bot.gtbundle")
    v2 = reader.read_bundle(FIXTURES / "webchat-bot-v2.gtbundle")
    assert v1.manifest.bundle_id == v2.manifest.bundle_id == "webchat-bot"
    assert (
        "Hello from webchat-bot! You said: {{in.input.text}}"
        in v1.packs["webchat-bot"].flows["main"]
    )
    assert (
        "Hello from webchat-bot v2! You said: {{in.input.text}}"
        in v2.packs["webchat-bot"].flows["main"]
    )
    assert "emit.response" in v1.packs["webchat-bot"].flows["main"]


def test_readme_states_the_reply_texts() -> None:
    readme = (FIXTURES / "README.md").read_text()
    assert "Hello from webchat-bot! You said: T" in readme
    assert "Hello from webchat-bot v2! You said: T" in readme
