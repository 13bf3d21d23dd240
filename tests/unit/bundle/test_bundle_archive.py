"""The deterministic ZIP writer and the hardened reader (hostile archives are refused)."""

from __future__ import annotations

import io
import stat
import warnings
import zipfile
from pathlib import Path

import pytest
from bundle_testlib import Pulled

from greentic.bundle import materialize
from greentic.bundle.archive import (
    Entry,
    Limits,
    SafeZip,
    UnsafeArchive,
    check_members,
    name_problem,
    zip_bytes,
)
from greentic.bundle.digest import sha256_file
from greentic.store.envstore import Store
from tests.support.stores import new_env


def hostile_zip(path: Path, members: list[tuple[str, bytes, int, int]]) -> Path:
    """Write members (name, data, unix mode, compression) without any safety checks."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on duplicate names
        with zipfile.ZipFile(path, "w") as zf:
            for name, data, mode, compression in members:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.create_system = 3
                info.external_attr = mode << 16
                info.compress_type = compression
                zf.writestr(info, data)
    return path


REG = stat.S_IFREG | 0o644
STORED = zipfile.ZIP_STORED
DEFLATED = zipfile.ZIP_DEFLATED
BOMB = b"\0" * (8 * 1024 * 1024)

HOSTILE = {
    "zip-slip": ([("../evil.txt", b"x", REG, STORED)], "../evil.txt", "escapes the archive root"),
    "nested-slip": (
        [("packs/../../evil.txt", b"x", REG, STORED)],
        "packs/../../evil.txt",
        "escapes the archive root",
    ),
    "absolute": ([("/tmp/evil.txt", b"x", REG, STORED)], "/tmp/evil.txt", "absolute path"),
    "symlink-escape": (
        [
            ("bundle.yaml", b"a: 1\n", REG, STORED),
            ("link", b"../../../etc/passwd", stat.S_IFLNK | 0o777, STORED),
        ],
        "link",
        "symlink",
    ),
    "duplicate": (
        [("bundle.yaml", b"a: 1\n", REG, STORED), ("bundle.yaml", b"a: 2\n", REG, STORED)],
        "bundle.yaml",
        "duplicate entry",
    ),
    "device": (
        [("dev/null", b"", stat.S_IFCHR | 0o666, STORED)],
        "dev/null",
        "device or special file",
    ),
    "ratio-bomb": (
        [("assets/zeros.bin", BOMB, REG, DEFLATED)],
        "assets/zeros.bin",
        "compression ratio",
    ),
    "backslash": ([("..\\evil.txt", b"x", REG, STORED)], "..\\evil.txt", "backslash"),
    "file-and-dir": (
        [("a", b"x", REG, STORED), ("a/b", b"y", REG, STORED)],
        "a",
        "both a file and a directory",
    ),
}


def assert_nothing_outside(tmp_path: Path, allowed: set[Path]) -> None:
    stray = [p for p in tmp_path.rglob("*") if "evil" in p.name or p.name in ("zeros.bin", "null")]
    assert [p for p in stray if not any(p.is_relative_to(a) for a in allowed)] == []


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archive_is_refused_naming_the_entry(case: str, tmp_path: Path) -> None:
    members, entry, reason = HOSTILE[case]
    archive = (
        hostile_zip(tmp_path / "in" / "x.zip", members)
        if (tmp_path / "in").mkdir() is None
        else None
    )
    assert archive is not None
    dest = tmp_path / "out" / "dest"
    with pytest.raises(UnsafeArchive) as err, SafeZip.open(archive, what="bundle x.zip") as z:
        z.extract_all(dest)
    assert f"entry `{entry}`" in err.value.message
    assert reason in err.value.message
    assert err.value.kind == "spec"
    assert not dest.exists()
    assert not (tmp_path / "out").exists()
    assert_nothing_outside(tmp_path, allowed=set())


def test_total_size_cap_names_the_entry(tmp_path: Path) -> None:
    archive = hostile_zip(
        tmp_path / "big.zip",
        [("a.bin", b"a" * 600, REG, STORED), ("b.bin", b"b" * 600, REG, STORED)],
    )
    with (
        pytest.raises(UnsafeArchive, match=r"entry `b.bin` takes the archive past the 1000-byte"),
        SafeZip.open(archive, what="bundle big.zip", limits=Limits(max_total=1000)),
    ):
        pass


def test_entry_count_cap(tmp_path: Path) -> None:
    archive = hostile_zip(tmp_path / "many.zip", [(f"f{i}", b"", REG, STORED) for i in range(5)])
    with (
        pytest.raises(UnsafeArchive, match="5 entries, over the cap of 4"),
        SafeZip.open(archive, what="many", limits=Limits(max_entries=4)),
    ):
        pass


def test_not_a_zip_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gtbundle"
    junk.write_bytes(b"hsqs not really squashfs")
    with (
        pytest.raises(UnsafeArchive, match="not a valid ZIP archive"),
        SafeZip.open(junk, what="bundle junk.gtbundle"),
    ):
        pass


def test_small_compressible_entries_are_fine(tmp_path: Path) -> None:
    archive = hostile_zip(tmp_path / "ok.zip", [("a.txt", b"\0" * 100_000, REG, DEFLATED)])
    with SafeZip.open(archive, what="ok") as z:
        [written] = z.extract_all(tmp_path / "dest")
    assert written.read_bytes() == b"\0" * 100_000
    assert stat.S_IMODE(written.stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a/b.txt", None),
        ("a/", None),
        ("", "empty name"),
        ("a//b", "not a canonical path"),
        ("./a", "not a canonical path"),
        ("C:/x", "absolute path"),
        ("a/../b", "escapes"),
    ],
)
def test_name_rules(name: str, problem: str | None) -> None:
    found = name_problem(name)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_writer_is_deterministic_and_sorted() -> None:
    a = zip_bytes([Entry("b.txt", b"2"), Entry("a.txt", b"1")])
    b = zip_bytes([Entry("a.txt", b"1"), Entry("b.txt", b"2")])
    assert a == b
    with zipfile.ZipFile(io.BytesIO(a)) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["a.txt", "b.txt"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert check_members(infos) == []


def test_writer_refuses_unsafe_or_duplicate_names() -> None:
    with pytest.raises(ValueError, match="escapes"):
        zip_bytes([Entry("../x", b"")])
    with pytest.raises(ValueError, match="duplicate"):
        zip_bytes([Entry("x", b"1"), Entry("x", b"2")])


@pytest.mark.parametrize("case", ["zip-slip", "symlink-escape", "ratio-bomb", "absolute"])
def test_materialize_refuses_hostile_bundle_and_leaves_nothing(
    case: str, tmp_path: Path, store: Store
) -> None:
    members, entry, _reason = HOSTILE[case]
    (tmp_path / "in").mkdir()
    archive = hostile_zip(tmp_path / "in" / "hostile.gtbundle", members)
    [rev] = new_env(store, [sha256_file(archive)])
    with pytest.raises(UnsafeArchive, match=f"entry `{entry}`"):
        materialize.materialize_revision(store, "e1", rev, Pulled(archive))
    revisions = store.paths("e1").dir / "revisions"
    assert sorted(p.name for p in revisions.iterdir()) == []
    assert_nothing_outside(tmp_path, allowed=set())


def test_streamed_source_entries_equal_in_memory_ones(tmp_path: Path) -> None:
    src = tmp_path / "payload.bin"
    src.write_bytes(b"p" * 3_000_000)
    from_disk = zip_bytes([Entry("assets/payload.bin", source=src), Entry("a.txt", b"1")])
    in_memory = zip_bytes([Entry("a.txt", b"1"), Entry("assets/payload.bin", src.read_bytes())])
    assert from_disk == in_memory
