"""harness.docker.images' pure helpers: the Debian mirror from apt sources, static-binary check."""

from __future__ import annotations

import struct
from pathlib import Path

from harness.docker import images


def test_mirror_is_read_from_deb822_sources() -> None:
    deb822 = (
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: http://security.example/\nSuites: bookworm-security\n"
        "Components: main\n"
    )
    assert images.mirror_from_sources([deb822]) == "http://mirror.example/debian"


def test_mirror_is_read_from_one_line_sources_with_options() -> None:
    one_line = (
        "# deb http://commented.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main contrib\n"
    )
    assert images.mirror_from_sources([one_line]) == "http://one.example/debian"


def test_no_mirror_for_another_suite_or_without_main() -> None:
    assert images.mirror_from_sources(["deb http://x.example/debian trixie main\n"]) is None
    assert images.mirror_from_sources(["deb http://x.example/debian bookworm contrib\n"]) is None


def elf64(*segment_types: int) -> bytes:
    """A minimal little-endian ELF64 header followed by its program header table."""
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 0x20, 64)  # e_phoff
    struct.pack_into("<HH", header, 0x36, 56, len(segment_types))  # e_phentsize, e_phnum
    table = b"".join(struct.pack("<I", t) + bytes(52) for t in segment_types)
    return bytes(header) + table


def test_a_binary_with_pt_interp_is_dynamic(tmp_path: Path) -> None:
    dynamic, static = tmp_path / "dynamic", tmp_path / "static"
    dynamic.write_bytes(elf64(6, 3, 1))  # PHDR, INTERP, LOAD
    static.write_bytes(elf64(1, 1, 4))  # LOAD, LOAD, NOTE
    assert images.is_dynamically_linked(dynamic) is True
    assert images.is_dynamically_linked(static) is False


def test_a_non_elf_file_is_not_dynamic(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\n")
    assert images.is_dynamically_linked(script) is False
