"""Issue #12 items 13: `gtc bundle build` never follows a symlink or reads a FIFO in its
sources, and a ZIP entry name holding a NUL is refused (zipfile cuts it before the check)."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from bundle_testlib import FIXTURES
from click.testing import CliRunner

from greentic.bundle.archive import Entry, SafeZip, UnsafeArchive, zip_bytes
from greentic.cli.bundle import bundle

SECRET = b"outside-the-bundle-source: do not embed"


def build(src: Path, out: Path) -> tuple[int, str]:
    result = CliRunner().invoke(bundle, ["build", str(src), "-o", str(out)])
    return result.exit_code, result.stderr


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    shutil.copytree(FIXTURES / "src" / "webchat-bot", root)
    (tmp_path / "outside.json").write_bytes(SECRET)
    return root


def _link_config(root: Path) -> Path:
    cfg = root / "state" / "pack-configs" / "webchat-bot.json"
    cfg.unlink()
    cfg.symlink_to(root.parent / "outside.json")
    return cfg


def _link_bundle_yaml(root: Path) -> Path:
    meta = root / "bundle.yaml"
    (root.parent / "outside.yaml").write_bytes(meta.read_bytes())
    meta.unlink()
    meta.symlink_to(root.parent / "outside.yaml")
    return meta


def _link_configs_dir(root: Path) -> Path:
    configs = root / "state" / "pack-configs"
    shutil.move(configs, root.parent / "configs")
    configs.symlink_to(root.parent / "configs")
    return configs


def _link_pack_dir(root: Path) -> Path:
    pack = root / "packs" / "webchat-bot"
    shutil.move(pack, root.parent / "webchat-bot")
    pack.symlink_to(root.parent / "webchat-bot")
    return pack


def _link_flow(root: Path) -> Path:
    flow = root / "packs" / "webchat-bot" / "flows" / "main.ygtc"
    shutil.move(flow, root.parent / "main.ygtc")
    flow.symlink_to(root.parent / "main.ygtc")
    return flow


@pytest.mark.parametrize(
    "plant",
    [_link_config, _link_bundle_yaml, _link_configs_dir, _link_pack_dir, _link_flow],
    ids=["pack-config", "bundle.yaml", "pack-configs-dir", "pack-dir", "flow"],
)
def test_build_refuses_a_symlink_in_the_sources_naming_it(
    src: Path, tmp_path: Path, plant: Callable[[Path], Path]
) -> None:
    link = plant(src)
    out = tmp_path / "x.gtbundle"
    code, stderr = build(src, out)
    assert code == 1, stderr
    error = json.loads(stderr.splitlines()[-1])["error"]
    assert str(link) in error["message"] and "symlink" in error["message"], error
    assert error["kind"] == "spec" and "copy" in error["hint"]
    assert not out.exists()


@pytest.mark.timeout(10)
def test_build_refuses_a_fifo_pack_config_without_hanging(src: Path, tmp_path: Path) -> None:
    cfg = src / "state" / "pack-configs" / "webchat-bot.json"
    cfg.unlink()
    os.mkfifo(cfg)
    code, stderr = build(src, tmp_path / "x.gtbundle")
    assert code == 1
    message = json.loads(stderr.splitlines()[-1])["error"]["message"]
    assert str(cfg) in message and "FIFO" in message


def test_build_still_reads_a_plain_source(src: Path, tmp_path: Path) -> None:
    code, stderr = build(src, tmp_path / "x.gtbundle")
    assert code == 0, stderr


def _with_raw_name(good: str, raw: bytes) -> bytes:
    """A valid ZIP whose entry `good` is renamed to `raw` in both headers (same length)."""
    assert len(good.encode()) == len(raw)
    data = zip_bytes([Entry(good, b'{"ok": true}')])
    return data.replace(good.encode(), raw)


def test_a_nul_in_an_entry_name_is_refused_by_its_raw_name() -> None:
    data = _with_raw_name("bundle.yamlXjunk.sh", b"bundle.yaml\x00junk.sh")
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["bundle.yaml"]  # zipfile cuts it
    with pytest.raises(UnsafeArchive) as info, SafeZip.open(io.BytesIO(data), what="bundle t"):
        pass
    assert "entry `bundle.yaml\\0junk.sh` has a NUL byte in its name" in str(info.value)
