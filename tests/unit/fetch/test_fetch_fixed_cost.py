"""A pull's fixed cost (#16): no httpx CLI import, no CA bundle for a plain-HTTP registry,
the fetched file written back while it streams."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from greentic.fetch import _sink
from greentic.fetch._refs import parse_oci
from greentic.fetch._registry import Registry
from greentic.fetch._sink import Sink

CHILD = """
import sys
from greentic.fetch._api import skip_httpx_cli
skip_httpx_cli()
import httpx
print(sorted(m for m in ("rich", "pygments", "httpx._main") if m in sys.modules
             and getattr(sys.modules[m], "__file__", None)))
print(httpx.Client.__name__)
"""


def test_importing_httpx_for_a_pull_skips_its_command_line_tool() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["[]", "Client"]


def test_the_stand_in_cli_says_what_it_is() -> None:
    from greentic.fetch import _api

    with pytest.raises(SystemExit, match="not loaded"):
        _api._no_cli()


def test_a_plain_http_registry_client_loads_no_trust_store(loads: list[str]) -> None:
    ref = parse_oci("oci://127.0.0.1:5999/bench/big:v1")
    with Registry.open(
        ref,
        insecure=frozenset({"127.0.0.1:5999"}),
        transport=None,
        timeout=1.0,
        attempts=1,
        sleep=time.sleep,
        action="pulling",
    ) as reg:
        assert reg.url("/v2/").startswith("http://")
    assert loads == []


def test_the_sink_writes_back_while_streaming_and_commits_durably(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fdatasync, real_fsync = os.fdatasync, os.fsync
    monkeypatch.setattr(_sink, "SYNC_EVERY", 1024)
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append("bg"), real_fdatasync(fd)))
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append("commit"), real_fsync(fd)))
    with Sink(tmp_path, max_bytes=1 << 20, what="test") as sink:
        for _ in range(8):
            sink.write(b"x" * 512)
        got = sink.commit("b.gtbundle")
    assert got.path.read_bytes() == b"x" * 4096 and got.size == 4096
    assert "bg" in synced and synced[-1] == "commit"  # the commit's fsync is always last
    assert [p.name for p in tmp_path.iterdir()] == ["b.gtbundle"]


def test_a_failed_background_write_back_fails_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux reports a write-back error once per file: the commit must not miss it."""

    def broken(_fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(_sink, "SYNC_EVERY", 1024)
    monkeypatch.setattr(os, "fdatasync", broken)
    with (
        pytest.raises(OSError, match="Input/output"),
        Sink(tmp_path, max_bytes=1 << 20, what="test") as sink,
    ):
        sink.write(b"x" * 2048)
        sink.commit("b.gtbundle")
    assert list(tmp_path.iterdir()) == []
