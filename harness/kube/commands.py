"""The one seam every kind/kubectl/docker command of the kind track goes through.

Command lines are built by pure functions elsewhere in `harness.kube` and executed through an
injectable `Runner`: real runs use `SubprocessRunner`, unit tests a scripted fake that records
the exact argv (kind cannot run where this was built). `must` turns a failed command into one
`KindError` naming the command and its stderr tail.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from harness.errors import HarnessError

COMMAND_TIMEOUT_S = 120.0


class KindError(HarnessError):
    """Raised when a kind/kubectl/docker command the kind track needs fails."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message + (f"\nHint: {hint}" if hint else ""))
        self.message = message
        self.hint = hint


class ProviderError(KindError):
    """Raised when the selected cluster cannot be used (one line naming it and the fix)."""


class ClusterUnreachable(ProviderError):
    """Raised when a kube context's API server does not answer within seconds."""


@dataclass(frozen=True)
class Completed:
    """What one command did: its argv, exit code and captured text."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Runner(Protocol):
    """Runs one argv to completion. Tests pass a scripted fake; real runs use SubprocessRunner."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Completed: ...


class SubprocessRunner:
    """The real runner: `subprocess.run`, text mode; a missing binary or timeout is a Completed."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Completed:
        args = tuple(argv)
        try:
            proc = subprocess.run(
                args,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                env=dict(env) if env is not None else None,
            )
        except FileNotFoundError:
            return Completed(args, 127, "", f"{args[0]}: not found on PATH")
        except subprocess.TimeoutExpired:
            return Completed(args, 124, "", f"{args[0]}: timed out after {timeout:g}s")
        return Completed(args, proc.returncode, proc.stdout, proc.stderr)


def must(result: Completed, *, hint: str | None = None) -> Completed:
    """`result` when it succeeded, else a KindError naming the command and its stderr tail."""
    if result.ok:
        return result
    tail = (result.stderr or result.stdout).strip()[-400:]
    raise KindError(
        f"`{' '.join(result.argv)}` failed (exit {result.returncode}): {tail or 'no output'}",
        hint=hint,
    )


def parse_lines(text: str) -> list[str]:
    """The non-blank lines of a command's output, stripped (`kind get clusters`, `docker ps`)."""
    return [line.strip() for line in text.splitlines() if line.strip()]
