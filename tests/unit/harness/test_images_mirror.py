"""harness.images picks the Debian mirror debootstrap uses from apt's own sources."""

from __future__ import annotations

from harness import images


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
