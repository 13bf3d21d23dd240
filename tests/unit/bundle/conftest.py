"""Fixtures for bundle tests (helpers live in bundle_testlib.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from bundle_testlib import fixture

from greentic.store.envstore import Store


@pytest.fixture
def store(store_root: Path) -> Store:
    return Store(store_root)


@pytest.fixture
def copy_fixture(tmp_path: Path) -> Callable[[str], Path]:
    """Copy a fixture bundle into the test's tmp dir (tests may tamper with the copy)."""

    def copy(name: str) -> Path:
        dest = tmp_path / "in" / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fixture(name), dest)
        return dest

    return copy
