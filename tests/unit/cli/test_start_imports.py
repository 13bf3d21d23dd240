"""The worker's entry keeps httpx's command-line tool (rich, pygments) out of the process."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from greentic.cli.start import skip_httpx_cli
{skip}
import httpx
assert callable(httpx.main) and callable(httpx.Client)
print("LOADED:" + ",".join(sorted(m for m in ("rich", "pygments") if m in sys.modules)))
"""


def loaded(skip: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(skip=skip)], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()[-1]


def test_skip_keeps_rich_and_pygments_out() -> None:
    assert loaded("skip_httpx_cli()") == "LOADED:"


def test_without_skip_httpx_imports_them() -> None:
    """The control: the skip is what makes the difference while rich is installed."""
    assert loaded("") == "LOADED:pygments,rich"
