"""HTTP fetch through httpx.MockTransport: redirects, retries, caps, and no partial files."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from greentic.errors import FetchError, NotFound
from greentic.fetch import fetch

BODY = os.urandom(300_000)
DIGEST = "sha256:" + hashlib.sha256(BODY).hexdigest()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_fetch_with_redirect(tmp_path: Path) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/old.gtbundle":
            return httpx.Response(302, headers={"Location": "/new/bundle.gtbundle"})
        return httpx.Response(200, content=BODY)

    got = fetch("http://dist.local/old.gtbundle", tmp_path, transport=httpx.MockTransport(handler))
    assert (got.digest, got.size) == (DIGEST, len(BODY))
    st = got.path.stat()
    assert got.file_id == (st.st_dev, st.st_ino)  # the very file the fetch wrote
    assert got.path.parent == tmp_path and got.path.read_bytes() == BODY
    assert files(tmp_path) == [got.path.name]


def test_transient_errors_are_retried_with_backoff(tmp_path: Path) -> None:
    calls: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req.url.path)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused")
        if len(calls) == 2:
            return httpx.Response(503)
        return httpx.Response(200, content=BODY)

    sleeps = Sleeps()
    got = fetch(
        "http://d/b.gtbundle", tmp_path, transport=httpx.MockTransport(handler), sleep=sleeps
    )
    assert got.digest == DIGEST
    assert len(calls) == 3 and len(sleeps) == 2 and sleeps[1] >= sleeps[0] > 0


def test_retries_are_bounded(tmp_path: Path) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("stalled")

    sleeps = Sleeps()
    with pytest.raises(FetchError) as err:
        fetch(
            "http://d/b.gtbundle",
            tmp_path,
            transport=httpx.MockTransport(handler),
            sleep=sleeps,
            attempts=3,
            timeout=2,
        )
    assert (
        err.value.message == "fetching http://d/b.gtbundle: timed out after 2s (ReadTimeout)"
        " (gave up after 3 attempts)"
    )
    assert len(sleeps) == 2
    assert files(tmp_path) == []


def test_client_errors_are_not_retried(tmp_path: Path) -> None:
    calls = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(404)

    with pytest.raises(FetchError, match="server answered 404 Not Found"):
        fetch(
            "http://d/b.gtbundle", tmp_path, transport=httpx.MockTransport(handler), sleep=Sleeps()
        )
    assert len(calls) == 1 and files(tmp_path) == []


def test_declared_length_over_the_cap_is_refused_before_download(tmp_path: Path) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=BODY)

    with pytest.raises(FetchError, match=r"is 300000 bytes, over the 1000-byte cap"):
        fetch(
            "http://d/b.gtbundle", tmp_path, transport=httpx.MockTransport(handler), max_bytes=1000
        )
    assert files(tmp_path) == []


def test_streamed_body_over_the_cap_is_cut_and_nothing_is_kept(tmp_path: Path) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 10_000

    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())  # chunked: no Content-Length

    with pytest.raises(FetchError) as err:
        fetch(
            "http://d/b.gtbundle",
            tmp_path,
            transport=httpx.MockTransport(handler),
            max_bytes=50_000,
        )
    assert "larger than the 50000-byte cap; download aborted and nothing kept" in err.value.message
    assert files(tmp_path) == []


def test_credentials_in_the_url_never_reach_the_message(tmp_path: Path) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(403)

    with pytest.raises(FetchError) as err:
        fetch("https://user:hunter2@d/b.gtbundle", tmp_path, transport=httpx.MockTransport(handler))
    assert "hunter2" not in err.value.message and "***@d" in err.value.message


def test_file_sources(tmp_path: Path) -> None:
    src = tmp_path / "src" / "my bundle.gtbundle"
    src.parent.mkdir()
    src.write_bytes(BODY)
    dest = tmp_path / "dest"
    plain = fetch(str(src), dest)
    uri = fetch(src.as_uri(), dest)
    assert plain.digest == uri.digest == DIGEST
    assert plain.path.parent == dest and plain.path != src and src.read_bytes() == BODY
    with pytest.raises(NotFound, match="does not exist"):
        fetch(str(tmp_path / "missing.gtbundle"), dest)
    with pytest.raises(FetchError, match="larger than the 10-byte cap"):
        fetch(str(src), tmp_path / "capped", max_bytes=10)
    assert files(tmp_path / "capped") == []
    with pytest.raises(FetchError, match="only local files"):
        fetch("file://otherhost/x", dest)


def test_file_fetch_does_not_import_httpx(tmp_path: Path) -> None:
    import subprocess
    import sys

    src = tmp_path / "b.gtbundle"
    src.write_bytes(b"x")
    code = (
        "import sys; from pathlib import Path; from greentic.fetch import fetch; "
        f"fetch({str(src)!r}, Path({str(tmp_path / 'd')!r})); "
        "print(sorted(m for m in ('httpx', 'tenacity', 'httpcore') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
