"""HTTP fetches from a real threaded server on 127.0.0.1: redirects, stalls, caps, retries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bundle_support import FIXTURES, Distributor, Route, no_op_sleep

from greentic.bundle.digest import sha256_file
from greentic.errors import FetchError
from greentic.fetch import fetch

BUNDLE = FIXTURES / "webchat-bot.gtbundle"


@pytest.fixture
def dist() -> Distributor:
    with Distributor() as d:
        yield d  # type: ignore[misc]


def test_fetch_direct_and_through_a_redirect(dist: Distributor, tmp_path: Path) -> None:
    direct = dist.add("/bundles/webchat-bot.gtbundle", Route(body=BUNDLE.read_bytes()))
    moved = dist.add("/latest.gtbundle", Route(location="/bundles/webchat-bot.gtbundle"))
    a = fetch(direct, tmp_path / "a")
    b = fetch(moved, tmp_path / "b")
    assert a.digest == b.digest == sha256_file(BUNDLE)
    assert a.path.read_bytes() == b.path.read_bytes() == BUNDLE.read_bytes()
    assert dist.routes["/latest.gtbundle"].hits == 1


def test_a_stalling_server_hits_the_timeout(dist: Distributor, tmp_path: Path) -> None:
    url = dist.add("/stall.gtbundle", Route(stall_before=True))
    with pytest.raises(FetchError) as err:
        fetch(url, tmp_path, timeout=0.5, attempts=2, sleep=no_op_sleep)
    assert "timed out after 0.5s (ReadTimeout) (gave up after 2 attempts)" in err.value.message
    assert dist.routes["/stall.gtbundle"].hits == 2
    assert list(tmp_path.iterdir()) == []


def test_a_stall_mid_body_leaves_no_partial_file(dist: Distributor, tmp_path: Path) -> None:
    url = dist.add("/half.gtbundle", Route(body=os.urandom(1_000_000), stall_after=300_000))
    with pytest.raises(FetchError, match="timed out"):
        fetch(url, tmp_path, timeout=0.5, attempts=1)
    assert list(tmp_path.iterdir()) == []


def test_a_body_over_the_cap_is_cut_with_no_file_left(dist: Distributor, tmp_path: Path) -> None:
    url = dist.add("/big.gtbundle", Route(body=os.urandom(3_000_000), content_length=False))
    with pytest.raises(FetchError) as err:
        fetch(url, tmp_path, max_bytes=1_000_000)
    assert (
        "larger than the 1000000-byte cap; download aborted and nothing kept" in err.value.message
    )
    assert list(tmp_path.iterdir()) == []
    declared = dist.add("/declared.gtbundle", Route(body=os.urandom(2_000_000)))
    with pytest.raises(FetchError, match="is 2000000 bytes, over the 1000000-byte cap"):
        fetch(declared, tmp_path, max_bytes=1_000_000)
    assert list(tmp_path.iterdir()) == []


def test_server_errors_are_retried(dist: Distributor, tmp_path: Path) -> None:
    url = dist.add("/flaky.gtbundle", Route(body=BUNDLE.read_bytes(), fail_first=2))
    got = fetch(url, tmp_path, sleep=no_op_sleep)
    assert got.digest == sha256_file(BUNDLE)
    assert dist.routes["/flaky.gtbundle"].hits == 3


def test_missing_file_is_not_retried(dist: Distributor, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="server answered 404"):
        fetch(dist.url("/nope.gtbundle"), tmp_path, sleep=no_op_sleep)


def test_connection_refused_is_retried_then_reported(tmp_path: Path) -> None:
    from bundle_support import free_port

    url = f"http://127.0.0.1:{free_port()}/x.gtbundle"
    with pytest.raises(FetchError, match=r"cannot connect .* \(gave up after 3 attempts\)"):
        fetch(url, tmp_path, attempts=3, sleep=no_op_sleep)
