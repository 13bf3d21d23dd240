"""`artifacts/<run-id>/`: the evidence of one scenario run, written on pass AND fail.

Checks write what they looked at (status JSON, log tails, file listings) before they decide;
processes stream their stdout/stderr here; the runner writes `result.json` last. Called by
`harness.context`, process handles and scenario checks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_ROOT_ENV = "GTC_ARTIFACTS"


def default_root(repo_root: Path) -> Path:
    """`$GTC_ARTIFACTS`, else `<repo>/artifacts`."""
    env = os.environ.get(DEFAULT_ROOT_ENV)
    return Path(env) if env else repo_root / "artifacts"


@dataclass(frozen=True)
class Artifacts:
    """One run's artifact directory. Example: `Artifacts(root / run_id).write_json("s.json", d)`."""

    dir: Path

    def path(self, name: str) -> Path:
        """`<dir>/<name>` with its parent directories created; `name` stays inside `dir`."""
        target = (self.dir / name).resolve()
        if not target.is_relative_to(self.dir.resolve()):
            raise ValueError(f"artifact name {name!r} escapes {self.dir}")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_text(self, name: str, text: str) -> Path:
        target = self.path(name)
        target.write_text(text, encoding="utf-8")
        return target

    def write_json(self, name: str, data: Any) -> Path:
        return self.write_text(name, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")

    def append_line(self, name: str, line: str) -> Path:
        target = self.path(name)
        with target.open("a", encoding="utf-8") as fh:
            fh.write(line.rstrip("\n") + "\n")
        return target

    def append_json(self, name: str, data: Any) -> Path:
        return self.append_line(name, json.dumps(data, sort_keys=True, default=str))

    def files(self) -> list[str]:
        """Every file written so far, relative to `dir`, sorted."""
        if not self.dir.is_dir():
            return []
        return sorted(str(p.relative_to(self.dir)) for p in self.dir.rglob("*") if p.is_file())
