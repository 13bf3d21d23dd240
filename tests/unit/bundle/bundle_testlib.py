"""Helpers for bundle tests: the fixture bundles and a stand-in for a fetched bundle.

A store with pinned revisions comes from tests/support/stores.py (`new_env`, `ENV`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from greentic.bundle.digest import sha256_file

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "bundles"


@dataclass(frozen=True)
class Pulled:
    """Stands in for greentic.fetch.FetchedBundle (`digest` empty: materialize hashes the bytes)."""

    path: Path
    digest: str = ""
    size: int = 0
    file_id: tuple[int, int] | None = None


def fetched_as(path: Path, digest: str) -> Pulled:
    """`path` described as the fetch that wrote it would: digest, size and (st_dev, st_ino)."""
    st = path.stat()
    return Pulled(path, digest=digest, size=st.st_size, file_id=(st.st_dev, st.st_ino))


def fixture(name: str) -> Path:
    return FIXTURES / name


__all__ = ["FIXTURES", "Pulled", "fetched_as", "fixture", "sha256_file"]
