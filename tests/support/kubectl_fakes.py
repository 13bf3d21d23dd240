"""A fake `kubectl port-forward` process for the port-forward tests (no kubectl, no cluster).

`FakeForward` prints its `Forwarding from …` lines, or exits at once with what kubectl said;
`terminate` marks it stopped with -15, as kubectl ends on SIGTERM.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeForward:
    """A harness.kube.portforward.Process: its lines, then silence; `said` is its output."""

    lines: list[str]
    said: str = ""
    exit_code: int | None = None
    terminated: bool = False

    def poll(self) -> int | None:
        return self.exit_code

    def readline(self, timeout: float) -> str | None:
        return self.lines.pop(0) if self.lines else None

    def terminate(self) -> None:
        self.terminated = True
        self.exit_code = -15 if self.exit_code is None else self.exit_code

    def output(self) -> str:
        return self.said
