"""The unpack fast path: stored entries copied file-to-file by the kernel, still checked,
and staged bundles hard-linked (a fetched copy) or copied (a user's file)."""

from __future__ import annotations

import errno
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bundle_testlib import Pulled, fetched_as

from greentic.bundle import materialize, stored
from greentic.bundle.archive import Entry, SafeZip, UnsafeArchive, write_zip
from greentic.bundle.digest import sha256_file
from greentic.errors import DigestMismatch
from greentic.store.envstore import Store
from tests.support.stores import ENV, new_env

PAYLOAD = os.urandom(3 * stored.BUFFER + 123)  # several buffers, not a multiple of one


def archive(path: Path) -> Path:
    with open(path, "wb") as fh:
        write_zip(fh, [Entry("a/big.bin", data=PAYLOAD), Entry("small.txt", data=b"hi\n")])
    return path


def no_user_space_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if an entry is read through zipfile (a user-space copy)."""

    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("a stored entry of an archive on disk went through zipfile")

    monkeypatch.setattr(zipfile.ZipFile, "open", refuse)


def test_stored_entries_of_a_file_are_copied_by_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = archive(tmp_path / "x.zip")
    no_user_space_read(monkeypatch)
    with SafeZip.open(src, what="bundle x.zip") as z:
        z.extract_all(tmp_path / "out")
    assert (tmp_path / "out" / "a" / "big.bin").read_bytes() == PAYLOAD
    assert (tmp_path / "out" / "small.txt").read_bytes() == b"hi\n"


def corrupt(path: Path, needle: bytes, replacement: bytes) -> None:
    data = path.read_bytes()
    assert data.count(needle) >= 1
    path.write_bytes(data.replace(needle, replacement, 1))


def test_a_corrupt_stored_entry_is_refused_naming_it(tmp_path: Path) -> None:
    src = archive(tmp_path / "x.zip")
    corrupt(src, PAYLOAD[1000:1016], bytes(16))
    with (
        pytest.raises(UnsafeArchive, match=r"entry `a/big.bin` is corrupt \(Bad CRC-32"),
        SafeZip.open(src, what="bundle x.zip") as z,
    ):
        z.extract_all(tmp_path / "out")


def test_a_local_header_naming_another_entry_is_refused(tmp_path: Path) -> None:
    src = archive(tmp_path / "x.zip")
    data = bytearray(src.read_bytes())
    assert data[30:39] == b"a/big.bin"  # the first entry's name in its local header
    data[30:39] = b"a/big.bXn"
    src.write_bytes(bytes(data))
    with (
        pytest.raises(UnsafeArchive, match=r"`a/big.bin` is corrupt \(its local header names"),
        SafeZip.open(src, what="bundle x.zip") as z,
    ):
        z.extract_all(tmp_path / "out")


@pytest.mark.parametrize("refused", [("copy_file_range",), ("copy_file_range", "sendfile")])
def test_copy_range_falls_back_when_the_kernel_copy_is_refused(
    refused: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    for name in ("copy_file_range", "sendfile"):
        real: Callable[..., int] = getattr(os, name)

        def fake(*a: Any, _name: str = name, _real: Callable[..., int] = real) -> int:
            calls.append(_name)
            if _name in refused:
                raise OSError(errno.EXDEV, "cross-device")
            return _real(*a)

        monkeypatch.setattr(os, name, fake)
    (tmp_path / "src").write_bytes(b"--" + PAYLOAD)
    src = os.open(tmp_path / "src", os.O_RDONLY)
    dst = os.open(tmp_path / "dst", os.O_WRONLY | os.O_CREAT)
    try:
        assert stored.copy_range(src, 2, dst, len(PAYLOAD)) == len(PAYLOAD)
        assert stored.copy_range(src, 2, dst, 10) == 10  # appends at dst's position
    finally:
        os.close(src)
        os.close(dst)
    assert (tmp_path / "dst").read_bytes() == PAYLOAD + PAYLOAD[:10]
    assert calls[: len(refused)] == list(refused)


def test_copy_range_stops_at_the_end_of_the_source(tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(b"abc")
    src = os.open(tmp_path / "src", os.O_RDONLY)
    dst = os.open(tmp_path / "dst", os.O_WRONLY | os.O_CREAT)
    try:
        assert stored.copy_range(src, 1, dst, 100) == 2
    finally:
        os.close(src)
        os.close(dst)
    assert (tmp_path / "dst").read_bytes() == b"bc"


def staged_bundle(store: Store, rev: str) -> Path:
    return store.paths(ENV).dir / "revisions" / rev / materialize.BUNDLE_FILE


def test_a_fetched_copy_is_linked_and_a_users_file_is_copied(
    store: Store, copy_fixture: Callable[[str], Path]
) -> None:
    fetched = copy_fixture("webchat-bot.gtbundle")
    [rev] = new_env(store, [sha256_file(fetched)])
    materialize.materialize_revision(store, ENV, rev, Pulled(fetched))
    assert staged_bundle(store, rev).stat().st_ino == fetched.stat().st_ino
    fetched.unlink()  # the caller drops its copy: the revision keeps the bytes
    assert sha256_file(staged_bundle(store, rev)) == sha256_file(
        Path(__file__).resolve().parents[3] / "fixtures" / "bundles" / "webchat-bot.gtbundle"
    )

    users = copy_fixture("webchat-bot.gtbundle")
    materialize.materialize_revision(store, ENV, rev, users)
    assert staged_bundle(store, rev).stat().st_ino != users.stat().st_ino
    assert sha256_file(staged_bundle(store, rev)) == sha256_file(users)


def spy_hashing(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The descriptors materialize hashes (`stored.sha256_fd`), which still hashes them."""
    hashed: list[int] = []
    real = stored.sha256_fd

    def spy(fd: int) -> str:
        hashed.append(fd)
        return real(fd)

    monkeypatch.setattr(stored, "sha256_fd", spy)
    return hashed


def pinned_copy(store: Store, copy_fixture: Callable[[str], Path]) -> tuple[Path, str, str]:
    """A copy of the webchat-bot bundle, its digest, and a new revision pinning that digest."""
    fetched = copy_fixture("webchat-bot.gtbundle")
    pinned = sha256_file(fetched)
    [rev] = new_env(store, [pinned])
    return fetched, pinned, rev


def test_a_pull_is_gated_on_the_digest_its_fetch_computed(
    store: Store, copy_fixture: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched, pinned, rev = pinned_copy(store, copy_fixture)
    hashed = spy_hashing(monkeypatch)
    with pytest.raises(DigestMismatch, match="sha256:other"):
        materialize.materialize_revision(store, ENV, rev, fetched_as(fetched, "sha256:other"))
    assert not (store.paths(ENV).dir / "revisions" / f"{rev}.partial").exists()

    materialize.materialize_revision(store, ENV, rev, fetched_as(fetched, pinned))
    assert hashed == []  # the fetch hashed the bytes as it wrote them: not read again
    assert staged_bundle(store, rev).stat().st_ino == fetched.stat().st_ino


def test_a_fetch_digest_also_vouches_for_a_kernel_copy_of_its_file(
    store: Store, copy_fixture: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched, pinned, rev = pinned_copy(store, copy_fixture)
    pulled = fetched_as(fetched, pinned)
    hashed = spy_hashing(monkeypatch)

    def no_link(*_a: Any) -> None:
        raise OSError(errno.EXDEV, "another filesystem")

    monkeypatch.setattr(os, "link", no_link)
    materialize.materialize_revision(store, ENV, rev, pulled)
    assert hashed == []
    assert staged_bundle(store, rev).stat().st_ino != fetched.stat().st_ino
    assert sha256_file(staged_bundle(store, rev)) == pinned


def test_another_file_under_the_fetched_name_is_hashed_and_refused(
    store: Store, copy_fixture: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched, pinned, rev = pinned_copy(store, copy_fixture)
    pulled = fetched_as(fetched, pinned)  # what the fetch wrote …
    swapped = fetched.with_name("swapped")
    swapped.write_bytes(fetched.read_bytes()[:-1] + b"\xff")
    os.replace(swapped, fetched)  # … is no longer the file at its name
    hashed = spy_hashing(monkeypatch)
    with pytest.raises(DigestMismatch):
        materialize.materialize_revision(store, ENV, rev, pulled)
    assert len(hashed) == 1
    assert not (store.paths(ENV).dir / "revisions" / f"{rev}.partial").exists()


def test_a_short_copy_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "src").write_bytes(PAYLOAD)
    monkeypatch.setattr(stored, "copy_range", lambda *_a: len(PAYLOAD) - 1)
    with pytest.raises(OSError, match="ended before its source"):
        stored.stage_file(tmp_path / "src", tmp_path / "dst", link=False)


def test_the_last_way_of_copying_finishes_short_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(*_a: Any) -> int:
        raise OSError(errno.ENOSYS, "not here")

    for name in ("copy_file_range", "sendfile"):
        monkeypatch.setattr(os, name, unsupported)
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data)[:1000]))  # short
    (tmp_path / "src").write_bytes(PAYLOAD)
    fd, source = stored.stage_file(tmp_path / "src", tmp_path / "dst", link=False)
    os.close(fd)
    assert source.st_size == len(PAYLOAD)
    assert (tmp_path / "dst").read_bytes() == PAYLOAD


def test_bytes_without_a_fetch_digest_are_hashed_before_the_gate(
    store: Store, copy_fixture: Callable[[str], Path]
) -> None:
    fetched = copy_fixture("webchat-bot.gtbundle")
    [rev] = new_env(store, [sha256_file(fetched)])
    with open(fetched, "r+b") as fh:  # not the bytes the pin names
        fh.seek(-1, os.SEEK_END)
        fh.write(b"\xff")
    for pulled in (Pulled(fetched), fetched):  # no fetch digest; a user's file
        with pytest.raises(DigestMismatch):
            materialize.materialize_revision(store, ENV, rev, pulled)
        assert not (store.paths(ENV).dir / "revisions" / f"{rev}.partial").exists()
