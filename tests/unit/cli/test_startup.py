"""greentic.cli.startup's stand-in for pydantic's plugin loader matches the installed pydantic."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pydantic

PROBE = """
import os, sys
from greentic.cli.startup import skip_pydantic_plugins
skip_pydantic_plugins()
from pydantic import BaseModel
class M(BaseModel):
    x: int
assert M(x=1).x == 1
print(os.environ["PYDANTIC_DISABLE_PLUGINS"], "importlib.metadata" in sys.modules)
"""


def test_pydantic_imports_only_get_plugins_from_its_loader() -> None:
    """A pydantic upgrade that needs more from `_loader` fails here, not at a user's start."""
    root = Path(pydantic.__file__).parent
    uses = {
        name.strip()
        for src in root.rglob("*.py")
        for found in re.findall(r"from \.?_loader import ([^\n]+)", src.read_text())
        for name in found.split(",")
    }
    assert uses == {"get_plugins"}


def run(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_discovery_off_keeps_the_metadata_reader_out() -> None:
    assert run({"PATH": "/usr/bin:/bin"}) == "__all__ False"


def test_a_user_naming_plugins_to_skip_keeps_discovery() -> None:
    assert run({"PATH": "/usr/bin:/bin", "PYDANTIC_DISABLE_PLUGINS": "a,b"}) == "a,b True"
