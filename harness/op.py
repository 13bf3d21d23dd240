"""Run the real `gtc` CLI as a subprocess, exactly as a user would, and parse its JSON.

`Gtc.op("env", "create", "local")` runs `gtc op --store-root S env create local`, returns the
`result` of the one JSON line on stdout, and raises `OpFailed` carrying the JSON error from
stderr otherwise. Every command and its outcome is appended to `commands.sh` and `op.jsonl`
in the run's artifacts, so a failed run can be replayed by hand. Used by scenarios.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.artifacts import Artifacts
from harness.errors import HarnessError

OP_DEADLINE_S = 60.0


class OpFailed(HarnessError):
    """Raised when a `gtc` command exits non-zero; carries its JSON error when it printed one."""

    def __init__(self, message: str, *, kind: str | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.stderr = stderr


def gtc_binary() -> str:
    """The venv's `gtc` next to this interpreter (a fresh clone runs demo.py with it)."""
    candidate = Path(sys.executable).with_name("gtc")
    return str(candidate) if candidate.exists() else "gtc"


def parse_error(stderr: str) -> tuple[str | None, str | None, str | None]:
    """(kind, message, hint) from a failed command's stderr: its last line is the one JSON
    error object every entry point writes (`{"op","noun","error":{kind,message,hint?}}`)."""
    for line in reversed(stderr.splitlines()):
        stripped = line.strip()
        if not stripped.startswith("{"):
            continue
        try:
            doc = json.loads(stripped)
        except ValueError:
            continue
        error = doc.get("error") if isinstance(doc, dict) else None
        if isinstance(error, dict):
            return error.get("kind"), error.get("message"), error.get("hint")
    return None, None, None


def parse_output(stdout: str) -> Any:
    """The last JSON line on stdout (the result envelope), else the raw text."""
    for line in reversed(stdout.splitlines()):
        if line.strip().startswith(("{", "[")):
            try:
                return json.loads(line)
            except ValueError:
                break
    return stdout


@dataclass
class Gtc:
    """The `gtc` CLI bound to one store root and one environment.

    Example: `Gtc(store_root, env=env, artifacts=a).op("bundles", "add", "bundle_id=x")`.
    """

    store_root: Path
    env: Mapping[str, str]
    artifacts: Artifacts | None = None
    binary: str = field(default_factory=gtc_binary)
    timeout_s: float = OP_DEADLINE_S

    def op(self, noun: str, verb: str, *args: str, answers: Path | None = None) -> Any:
        """`gtc op --store-root S [--answers F] <noun> <verb> ARGS` → its `result`."""
        argv = ["op", "--store-root", str(self.store_root)]
        argv += ["--answers", str(answers)] if answers is not None else []
        doc = self.run(*argv, noun, verb, *args, label=f"gtc op {noun} {verb}")
        if isinstance(doc, dict) and "result" in doc:
            return doc["result"]
        raise OpFailed(f"`gtc op {noun} {verb}` printed no result envelope: {str(doc)[:200]!r}")

    def run(self, *args: str, label: str | None = None) -> Any:
        """Any `gtc` command (e.g. `bundle push`); its parsed stdout."""
        argv = [self.binary, *args]
        what = f"`{label or 'gtc ' + ' '.join(args[:2])}`"
        started = time.monotonic()
        try:
            proc = subprocess.run(
                argv,
                env=dict(self.env),
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
            )
        except FileNotFoundError:
            raise OpFailed(
                f"`{self.binary}` not found\nHint: run `make setup` (installs the gtc CLI)"
            ) from None
        except subprocess.TimeoutExpired:
            raise OpFailed(f"{what} did not finish in {self.timeout_s:g}s") from None
        self._record(args, proc, time.monotonic() - started)
        if proc.returncode != 0:
            kind, message, hint = parse_error(proc.stderr)
            if message:
                text = f"{what} failed ({kind}): {message}"
            else:
                text = f"{what} exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
            raise OpFailed(
                text + (f"\nHint: {hint}" if hint else ""), kind=kind, stderr=proc.stderr
            )
        return parse_output(proc.stdout)

    def _record(
        self, args: tuple[str, ...], proc: subprocess.CompletedProcess[str], s: float
    ) -> None:
        if self.artifacts is None:
            return
        self.artifacts.append_line("commands.sh", f"gtc {shlex.join(args)}")
        self.artifacts.append_json(
            "op.jsonl",
            {
                "argv": ["gtc", *args],
                "exit": proc.returncode,
                "stdout": proc.stdout,
                "stderr": proc.stderr,
                "elapsed_s": round(s, 3),
            },
        )


def operator_env(work_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment `gtc` runs with: the caller's, with HOME and the operator key private
    to this run (so a scenario never touches the user's ~/.greentic)."""
    home = work_dir / "operator-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GREENTIC_", "GTC_"))}
    env["HOME"] = str(home)
    env["GTC_OPERATOR_KEY_PATH"] = str(home / ".greentic" / "operator" / "key.pem")
    env.update(extra or {})
    return env
