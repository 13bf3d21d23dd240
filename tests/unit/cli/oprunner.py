"""Helpers for the `op` CLI tests: run the real `gtc` group, read its one JSON line."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "bundles"
# The payload-taking verbs that act on an existing environment: on an empty store each fails.
ENV_PAYLOAD_VERBS: list[tuple[str, ...]] = [
    ("trust-root", "bootstrap"),
    ("env-packs", "add"),
    ("bundles", "add"),
    ("revisions", "stage"),
    ("revisions", "warm"),
    ("revisions", "archive"),
    ("traffic", "set"),
    ("secrets", "put"),
    ("deploy",),
    ("messaging", "endpoint", "add"),
    ("messaging", "endpoint", "link-bundle"),
]


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def doc(self) -> dict[str, Any]:
        """The one JSON line (stdout on success, stderr's last and only JSON line on failure)."""
        if self.code == 0:
            lines = self.stdout.splitlines()
            assert len(lines) == 1, self.stdout
            return dict(json.loads(lines[0]))
        lines = self.stderr.splitlines()
        assert len([ln for ln in lines if ln.startswith("{")]) == 1, self.stderr
        assert lines and lines[-1].startswith("{"), self.stderr  # nothing after the error line
        assert self.stdout == "", self.stdout
        return dict(json.loads(lines[-1]))

    @property
    def result(self) -> dict[str, Any]:
        assert self.code == 0, self.stderr
        return dict(self.doc["result"])

    @property
    def hint(self) -> str:
        """The failure's hint (inside the JSON error), or "" when it has none."""
        return str(self.error.get("hint", ""))

    @property
    def error(self) -> dict[str, str]:
        assert self.code == 1, (self.code, self.stdout, self.stderr)
        return dict(self.doc["error"])


Op = Callable[..., Outcome]


def write_json(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path
