"""The loopback distributor: serving, counting, tampering, failing, clearing, cleanup."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from harness.distributor import Distributor, DistributorError, tampered


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "b.gtbundle"
    path.parent.mkdir()
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    return path


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=5, trust_env=False)


def test_serves_published_files_and_counts_requests(tmp_path: Path, bundle: Path) -> None:
    with Distributor(tmp_path / "dist") as dist:
        url = dist.publish(bundle)
        assert url == f"http://127.0.0.1:{dist.port}/b.gtbundle"
        assert dist.hits("b.gtbundle") == 0
        assert get(url).content == bundle.read_bytes()
        assert get(url).status_code == 200
        assert get(dist.url_for("missing.gtbundle")).status_code == 404
        assert dist.hits("b.gtbundle") == 2
        assert dist.hits("/missing.gtbundle") == 1
        assert [(r.path, r.status) for r in dist.requests][-1] == ("/missing.gtbundle", 404)


def test_tamper_serves_same_length_wrong_bytes(tmp_path: Path, bundle: Path) -> None:
    with Distributor(tmp_path / "dist") as dist:
        url = dist.publish(bundle)
        dist.tamper("b.gtbundle")
        body = get(url).content
        assert body != bundle.read_bytes()
        assert len(body) == len(bundle.read_bytes())
        assert body == dist.served_bytes("b.gtbundle") == tampered(bundle.read_bytes())
        dist.tamper("b.gtbundle", b"evil")
        assert get(url).content == b"evil"


def test_fail_answers_an_error_a_given_number_of_times(tmp_path: Path, bundle: Path) -> None:
    with Distributor(tmp_path / "dist") as dist:
        url = dist.publish(bundle)
        dist.fail("b.gtbundle", status=503, times=2)
        assert [get(url).status_code for _ in range(3)] == [503, 503, 200]


def test_clear_forgets_counts_and_misbehaviour_but_keeps_files(
    tmp_path: Path, bundle: Path
) -> None:
    with Distributor(tmp_path / "dist") as dist:
        url = dist.publish(bundle)
        dist.tamper("b.gtbundle")
        get(url)
        dist.clear()
        assert dist.hits("b.gtbundle") == 0
        assert dist.requests == []
        assert get(url).content == bundle.read_bytes()


def test_paths_outside_the_root_are_not_served(tmp_path: Path, bundle: Path) -> None:
    (tmp_path / "secret.txt").write_text("do not serve")
    with Distributor(tmp_path / "dist") as dist:
        dist.publish(bundle)
        response = httpx.get(f"http://{dist.authority}/%2e%2e/secret.txt", trust_env=False)
        assert response.status_code == 404
        with pytest.raises(DistributorError, match="leaves"):
            dist.publish(bundle, "../escape.gtbundle")
        with pytest.raises(DistributorError, match="not published"):
            dist.tamper("nope.gtbundle")


def test_a_half_start_cleans_up_and_says_why(tmp_path: Path) -> None:
    threads = threading.active_count()
    dist = Distributor(tmp_path / "dist", host="203.0.113.7")  # not an address of this host
    with pytest.raises(DistributorError, match="cannot start the bundle distributor"):
        dist.__enter__()
    assert threading.active_count() == threads
    with pytest.raises(RuntimeError, match="not running"):
        _ = dist.port


def test_exit_stops_serving(tmp_path: Path, bundle: Path) -> None:
    with Distributor(tmp_path / "dist") as dist:
        url = dist.publish(bundle)
    with pytest.raises(httpx.ConnectError):
        get(url)
