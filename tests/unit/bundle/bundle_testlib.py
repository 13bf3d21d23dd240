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


def fixture(name: str) -> Path:
    return FIXTURES / name


__all__ = ["FIXTURES", "Pulled", "fixture", "sha256_file"]
