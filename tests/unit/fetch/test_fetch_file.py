"""Local sources: a directory is named as such (not "does not exist"); dest stays empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from greentic.errors import FetchError, NotFound
from greentic.fetch import fetch


@pytest.mark.parametrize("as_uri", [True, False])
def test_a_directory_reference_says_it_is_a_directory(tmp_path: Path, as_uri: bool) -> None:
    src = tmp_path / "bundle-src"
    src.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    ref = src.as_uri() if as_uri else str(src)
    with pytest.raises(FetchError) as err:
        fetch(ref, dest)
    assert not isinstance(err.value, NotFound)
    assert err.value.message == (
        f"bundle reference {ref} names the directory {src}, not a .gtbundle file"
    )
    assert err.value.hint is not None
    assert "gtc bundle build" in err.value.hint
    assert list(dest.iterdir()) == []


def test_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        fetch(str(tmp_path / "nope.gtbundle"), tmp_path)
