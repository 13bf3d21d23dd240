"""File-to-file copies in the kernel: whole staged bundles and the stored entries of a ZIP.

`stage_file` hard-links a fetched bundle into a revision's staging dir (same filesystem) or
copies it there, and `sha256_fd` hashes staged bytes the digest gate has no fetch digest for.

A .gtbundle/.gtpack stores its entries uncompressed, so unpacking one is a byte-range copy
from the archive file at the entry's data offset. `copy_range` does it with
`os.copy_file_range` (falling back to `sendfile`, then to `pread`/`write`) so the bytes never
pass through user space; `copy_stored_entry` finds the entry's data behind its local header
(refusing a header that disagrees with the central directory, as zipfile does) and checks its
CRC-32 from a small reused buffer, so a corrupt entry is still refused.
"""

from __future__ import annotations

import errno
import hashlib
import os
import struct
import zipfile
import zlib
from pathlib import Path

BUFFER = 1024 * 1024
LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # signature … name length, extra length (30 bytes)
LOCAL_SIGNATURE = b"PK\x03\x04"
UTF8_FLAG = 0x800
# copy_file_range/sendfile cannot serve this pair of files: fall back to the next way.
UNSUPPORTED = {errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF}


class CorruptEntry(Exception):
    """The entry's bytes are not what the central directory says; the message says how."""


def _copy_once(way: int, src: int, offset: int, dst: int, count: int, buf: memoryview) -> int:
    """One step of a copy: 0 is copy_file_range, 1 sendfile, 2 pread/write through `buf`."""
    if way == 0:
        return os.copy_file_range(src, dst, min(count, 1 << 30), offset)
    if way == 1:
        return os.sendfile(dst, src, offset, min(count, 1 << 30))
    n = os.preadv(src, [buf[: min(len(buf), count)]], offset)
    rest = buf[:n]
    while rest:  # a write may be short (a full disk answers the next one with ENOSPC)
        rest = rest[os.write(dst, rest) :]
    return n


def copy_range(src: int, offset: int, dst: int, count: int) -> int:
    """Append `count` bytes of `src` from `offset` at `dst`'s position; returns bytes copied
    (fewer only when `src` ends first). Never moves `src`'s file position. The kernel copies
    unless neither copy_file_range nor sendfile serves this pair of files."""
    done = 0
    way = 0
    buf = memoryview(b"")
    while done < count:
        try:
            n = _copy_once(way, src, offset + done, dst, count - done, buf)
        except OSError as exc:
            if exc.errno not in UNSUPPORTED or done or way == 2:
                raise
            way += 1  # nothing written yet: the next way starts from the beginning
            buf = memoryview(bytearray(BUFFER)) if way == 2 else buf
            continue
        if n == 0:
            break
        done += n
    return done


def stage_file(src: Path, dst: Path, *, link: bool) -> tuple[int, os.stat_result]:
    """Put the bytes of `src` at the new file `dst`: hard-linked when `link` and the filesystem
    allows (no byte copied), else copied by the kernel. Returns `dst` open for reading and the
    status of the file whose bytes it holds (the linked inode, or the copy's source as opened),
    which tells a caller which file it staged. A copy shorter than its source raises."""
    if link:
        try:
            os.link(src, dst)
        except OSError:
            pass  # another filesystem, links refused, or missing (the copy then says so)
        else:
            fd = os.open(dst, os.O_RDONLY | os.O_CLOEXEC)
            return fd, os.fstat(fd)
    fin = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        source = os.fstat(fin)
        fout = os.open(dst, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            if copy_range(fin, 0, fout, source.st_size) != source.st_size:
                raise OSError(errno.EIO, "the copy ended before its source did")
        except BaseException:
            os.close(fout)
            raise
        return fout, source
    finally:
        os.close(fin)


def sha256_fd(fd: int) -> str:
    """The `sha256:` digest of the whole file behind `fd`, read through one reused buffer."""
    h = hashlib.sha256()
    buf = bytearray(BUFFER)
    view = memoryview(buf)
    offset = 0
    while n := os.preadv(fd, [view], offset):
        h.update(view[:n])
        offset += n
    return "sha256:" + h.hexdigest()


def crc32_range(fd: int, offset: int, count: int) -> int:
    """CRC-32 of `count` bytes of `fd` from `offset` (fewer if the file ends first)."""
    buf = bytearray(BUFFER)
    view = memoryview(buf)
    crc = 0
    done = 0
    while done < count:
        n = os.preadv(fd, [view[: min(BUFFER, count - done)]], offset + done)
        if n == 0:
            break
        crc = zlib.crc32(view[:n], crc)
        done += n
    return crc


def data_offset(fd: int, info: zipfile.ZipInfo) -> int:
    """Where the entry's bytes start: past its local header, which must name the same entry."""
    raw = os.pread(fd, LOCAL_HEADER.size, info.header_offset)
    if len(raw) != LOCAL_HEADER.size:
        raise CorruptEntry("its local header is truncated")
    fields = LOCAL_HEADER.unpack(raw)
    if fields[0] != LOCAL_SIGNATURE:
        raise CorruptEntry("bad magic number for its local header")
    flags, name_len, extra_len = int(fields[2]), int(fields[9]), int(fields[10])
    name = os.pread(fd, name_len, info.header_offset + LOCAL_HEADER.size)
    shown = name.decode("utf-8" if flags & UTF8_FLAG else "cp437", errors="replace")
    if shown != info.orig_filename:
        raise CorruptEntry(f"its local header names `{shown}`")
    return info.header_offset + LOCAL_HEADER.size + name_len + extra_len


def copy_stored_entry(src: int, info: zipfile.ZipInfo, dst: int) -> None:
    """Copy the stored (uncompressed) entry `info` of the archive `src` into `dst`, checked."""
    if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
        raise CorruptEntry("is not a stored entry of its declared size")
    start = data_offset(src, info)
    if copy_range(src, start, dst, info.file_size) != info.file_size:
        raise CorruptEntry("ends before its declared size")
    if crc32_range(src, start, info.file_size) != info.CRC:
        raise CorruptEntry(f"Bad CRC-32 for file {info.filename!r}")
