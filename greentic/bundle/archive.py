"""ZIP containers for .gtpack and .gtbundle: a deterministic writer and a hardened reader.

The writer sorts entries and fixes every header field that could vary (time, mode, host
system, compression), so the same sources always give the same bytes. The reader refuses,
naming the entry, anything that could write outside its destination or exhaust the disk:
absolute paths, `..`, symlinks, device files, duplicates, size and compression-ratio bombs.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from greentic.bundle import stored
from greentic.errors import SpecError
from greentic.store.files import open_regular

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
UNIX = 3
CHUNK = 1024 * 1024
ALLOWED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class UnsafeArchive(SpecError):
    """Raised when an archive entry is hostile or malformed; the message names the entry."""


@dataclass(frozen=True)
class Entry:
    """One file of an archive being written: in-memory `data` or a `source` file streamed in."""

    name: str
    data: bytes | None = None
    source: Path | None = None


@dataclass(frozen=True)
class Limits:
    """Caps the reader enforces. Ratio is checked only for entries above `ratio_floor` bytes."""

    max_total: int = 2 * 1024**3
    max_ratio: int = 100
    ratio_floor: int = 1024 * 1024
    max_entries: int = 10_000


DEFAULT_LIMITS = Limits()


# -- names (pure) ---------------------------------------------------------------------------
def name_problem(name: str) -> str | None:
    """Why `name` is not a safe, canonical relative entry name (None when it is)."""
    if not name or name == "/":
        return "has an empty name"
    if "\x00" in name:
        return "has a NUL byte in its name"
    if "\\" in name:
        return "uses a backslash in its name (not a portable path)"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    parts = name.removesuffix("/").split("/")
    if ".." in parts:
        return "escapes the archive root (`..`)"
    if any(p in ("", ".") for p in parts):
        return "is not a canonical path (empty or `.` segment)"
    return None


def _type_problem(info: zipfile.ZipInfo) -> str | None:
    mode = info.external_attr >> 16
    if info.create_system != UNIX or mode == 0:
        return None
    if stat.S_ISLNK(mode):
        return "is a symlink (symlink entries are refused)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return "is a device or special file"
    if stat.S_ISDIR(mode) and not info.filename.endswith("/"):
        return "is a directory without a trailing `/`"
    return None


def shown_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as stored, with a NUL shown as `\\0` (zipfile's `filename` is cut at
    the first NUL, so `a.json\\0.sh` would pass for `a.json`)."""
    return info.orig_filename.replace("\x00", "\\0")


def _entry_problem(info: zipfile.ZipInfo, seen: set[str]) -> str | None:
    """What is wrong with one entry on its own (name, type, encryption, method, duplicate)."""
    name = info.filename
    problem = name_problem(info.orig_filename) or name_problem(name) or _type_problem(info)
    if problem is None and info.flag_bits & 0x1:
        problem = "is encrypted"
    if problem is None and info.compress_type not in ALLOWED_COMPRESSION:
        problem = f"uses unsupported compression method {info.compress_type}"
    if problem is None and name in seen:
        problem = "is a duplicate entry"
    return problem


def _size_problem(info: zipfile.ZipInfo, total: int, limits: Limits) -> str | None:
    """The size caps for a file entry, given the running uncompressed `total` including it."""
    if total > limits.max_total:
        return f"takes the archive past the {limits.max_total}-byte uncompressed size cap"
    packed = max(info.compress_size, 1)
    if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * packed:
        ratio = info.file_size // packed
        return f"has a compression ratio of {ratio}:1, over the cap of {limits.max_ratio}:1"
    return None


def check_members(infos: list[zipfile.ZipInfo], limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Validate the central directory; return the problems as `entry `x` …` strings (pure).

    An empty list means the archive is safe to read and extract within `limits`.
    """
    problems: list[str] = []
    if len(infos) > limits.max_entries:
        problems.append(f"has {len(infos)} entries, over the cap of {limits.max_entries}")
    seen: set[str] = set()
    files: set[str] = set()
    dirs: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        problem = _entry_problem(info, seen)
        if problem is None and not name.endswith("/"):
            total += info.file_size
            problem = _size_problem(info, total, limits)
        if problem is not None:
            problems.append(f"entry `{shown_name(info)}` {problem}")
            continue
        seen.add(name)
        clean = name.removesuffix("/")
        (dirs if name.endswith("/") else files).add(clean)
        parts = clean.split("/")
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
    for clash in sorted(files & dirs):
        problems.append(f"entry `{clash}` is both a file and a directory")
    problems.extend(_overlaps(infos))
    return problems


def _overlaps(infos: list[zipfile.ZipInfo]) -> list[str]:
    """Entries whose data runs into the next local header (overlapping-entry zip bombs)."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    out: list[str] = []
    for cur, nxt in itertools.pairwise(ordered):
        if cur.header_offset + 30 + cur.compress_size > nxt.header_offset:
            out.append(f"entry `{nxt.filename}` overlaps entry `{cur.filename}`")
    return out


# -- writer ---------------------------------------------------------------------------------
def _zipinfo(name: str, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = UNIX
    info.external_attr = FILE_MODE << 16
    info.file_size = size
    return info


def write_zip(dest: BinaryIO, entries: Iterable[Entry]) -> None:
    """Write `entries` to the seekable `dest` as a deterministic ZIP.

    Sorted by name, stored (no deflate: byte-stable across zlib builds), 1980-01-01, 0644,
    no extra fields, no comment. Names must be safe (ValueError otherwise: a developer bug).
    """
    ordered = sorted(entries, key=lambda e: e.name)
    names = [e.name for e in ordered]
    if len(set(names)) != len(names):
        raise ValueError(
            f"duplicate archive entries: {sorted({n for n in names if names.count(n) > 1})}"
        )
    with zipfile.ZipFile(dest, "w", allowZip64=True) as zf:
        for entry in ordered:
            problem = name_problem(entry.name)
            if problem is not None or entry.name.endswith("/"):
                raise ValueError(f"entry `{entry.name}` {problem or 'is a directory'}")
            if entry.data is not None:
                zf.writestr(_zipinfo(entry.name, len(entry.data)), entry.data)
            elif entry.source is not None:  # never through a symlink swapped in since listing
                fd = open_regular(entry.source, what="bundle asset", error=SpecError)
                with os.fdopen(fd, "rb") as src:
                    info = _zipinfo(entry.name, os.fstat(src.fileno()).st_size)
                    with zf.open(info, "w") as out:
                        while chunk := src.read(CHUNK):
                            out.write(chunk)
            else:
                raise ValueError(f"entry `{entry.name}` has neither data nor source")


def zip_bytes(entries: Iterable[Entry]) -> bytes:
    """The deterministic ZIP of small in-memory `entries` (packs, fixtures)."""
    import io

    buf = io.BytesIO()
    write_zip(buf, entries)
    return buf.getvalue()


# -- reader ---------------------------------------------------------------------------------
class SafeZip:
    """A validated ZIP: every member already passed `check_members`.

    Example: `with SafeZip.open(path, what="bundle x.gtbundle") as z: z.extract_all(dest)`.
    """

    def __init__(self, zf: zipfile.ZipFile, *, what: str, limits: Limits) -> None:
        self._zf = zf
        self.what = what
        self.limits = limits
        problems = check_members(zf.infolist(), limits)
        if problems:
            raise UnsafeArchive(f"{what}: {problems[0]}; refusing to unpack")
        self.files = {i.filename: i for i in zf.infolist() if not i.filename.endswith("/")}

    @classmethod
    @contextmanager
    def open(
        cls, source: Path | IO[bytes], *, what: str, limits: Limits = DEFAULT_LIMITS
    ) -> Iterator[SafeZip]:
        """Open and validate `source` (path or binary file object)."""
        try:
            zf = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
            raise UnsafeArchive(f"{what}: not a valid ZIP archive ({exc})") from None
        except OSError as exc:
            raise UnsafeArchive(f"{what}: cannot open ({exc.strerror or exc})") from None
        with zf:
            yield cls(zf, what=what, limits=limits)

    def _file_fd(self) -> int | None:
        """The archive's file descriptor when it is a file on disk (not an in-memory one)."""
        try:
            return self._zf.fp.fileno() if self._zf.fp is not None else None
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
            return None

    def names(self) -> list[str]:
        """File entry names in archive order."""
        return list(self.files)

    def read(self, name: str, *, max_bytes: int = 16 * 1024 * 1024) -> bytes:
        """Bytes of one small entry (manifests, flows, nested packs); capped, CRC-checked."""
        info = self.files.get(name)
        if info is None:
            raise UnsafeArchive(f"{self.what}: missing entry `{name}`")
        if info.file_size > max_bytes:
            raise UnsafeArchive(
                f"{self.what}: entry `{name}` is {info.file_size} bytes, over the "
                f"{max_bytes}-byte cap for in-memory entries"
            )
        try:
            return self._zf.read(info)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise UnsafeArchive(f"{self.what}: entry `{name}` is corrupt ({exc})") from None

    def extract_all(self, dest: Path) -> list[Path]:
        """Stream every file into the new directory `dest` (0644, no symlinks followed)."""
        dest.mkdir(parents=True, exist_ok=False)
        root = dest.resolve()
        written: list[Path] = []
        for name, info in self.files.items():
            target = root / name
            if not target.resolve().is_relative_to(root):  # belt and braces: names are checked
                raise UnsafeArchive(f"{self.what}: entry `{name}` escapes the destination")
            target.parent.mkdir(parents=True, exist_ok=True)
            self._extract_one(name, info, target)
            written.append(target)
        return written

    def _extract_one(self, name: str, info: zipfile.ZipInfo, target: Path) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(target, flags, 0o644)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ELOOP):
                raise UnsafeArchive(f"{self.what}: entry `{name}` collides on disk") from None
            raise
        source = self._file_fd() if info.compress_type == zipfile.ZIP_STORED else None
        if source is not None:  # uncompressed: a kernel copy at the entry's data offset
            with os.fdopen(fd, "wb") as out:
                try:
                    stored.copy_stored_entry(source, info, out.fileno())
                except stored.CorruptEntry as exc:
                    raise UnsafeArchive(f"{self.what}: entry `{name}` is corrupt ({exc})") from None
                os.fsync(out.fileno())
            return
        written = 0
        try:
            with os.fdopen(fd, "wb") as out, self._zf.open(info) as src:
                while chunk := src.read(CHUNK):
                    written += len(chunk)
                    if written > info.file_size:
                        raise UnsafeArchive(
                            f"{self.what}: entry `{name}` inflates past its declared size"
                        )
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except (zipfile.BadZipFile, EOFError) as exc:
            raise UnsafeArchive(f"{self.what}: entry `{name}` is corrupt ({exc})") from None
