"""Run the real `gtc` console script as a subprocess and read its one JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GTC = Path(sys.executable).parent / "gtc"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bundles"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict[str, Any]:
        assert self.code == 0, self.stderr
        lines = self.stdout.splitlines()
        assert len(lines) == 1, self.stdout
        return dict(json.loads(lines[0])["result"])

    @property
    def error(self) -> dict[str, str]:
        assert self.code == 1, (self.code, self.stdout, self.stderr)
        assert self.stdout == ""
        lines = [ln for ln in self.stderr.splitlines() if ln.startswith("{")]
        assert len(lines) == 1, self.stderr
        assert "Traceback" not in self.stderr
        return dict(json.loads(lines[0])["error"])


def gtc(
    store: Path,
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    answers: Path | None = None,
) -> Run:
    """`gtc op --store-root STORE [--answers A] ARGS…` with stdin closed (no TTY)."""
    head = ["op", "--store-root", str(store)]
    if answers is not None:
        head += ["--answers", str(answers)]
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [str(GTC), *head, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)
