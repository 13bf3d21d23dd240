"""`gtc --help` and `gtc op --help` stay lean: no pydantic, httpx or kubernetes imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pydantic", "httpx", "kubernetes", "cryptography", "yaml")

PROBE = """
import sys
from greentic.cli.main import gtc
try:
    gtc.main({args!r}, prog_name="gtc")
except SystemExit:
    pass
print("HEAVY:" + ",".join(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["op", "--help"],
        ["op", "env", "--help"],
        ["bundle", "--help"],
        ["pack", "--help"],
        ["start", "--help"],
    ],
)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.splitlines()[-1] == "HEAVY:", out.stdout
