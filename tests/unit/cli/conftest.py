"""Fixtures for the `op` CLI tests: a per-test operator key and the `op` runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from greentic.cli.main import gtc

from .oprunner import Op, Outcome


@pytest.fixture(autouse=True)
def _operator_key(operator_key: Path) -> Path:
    """Every CLI test uses a per-test operator key (never ~/.greentic)."""
    return operator_key


@pytest.fixture
def op(store_root: Path) -> Op:
    """`op(*args, input=None, answers=None)` runs `gtc op --store-root S [--answers A] …`."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None, answers: Path | None = None) -> Outcome:
        head = ["op", "--store-root", str(store_root)]
        if answers is not None:
            head += ["--answers", str(answers)]
        r = runner.invoke(gtc, [*head, *args], input=input, catch_exceptions=False)
        return Outcome(r.exit_code, r.stdout, r.stderr)

    return run
