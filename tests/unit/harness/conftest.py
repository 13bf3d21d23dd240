"""Fakes for the kind-track unit tests: a scripted command runner, a fake clock.

`FakeRunner` answers argv by longest matching prefix and records every call (argv, stdin),
so tests assert the exact command lines without kind, kubectl or docker installed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from harness.kube.commands import Completed

Answer = Completed | Callable[[tuple[str, ...], str | None], Completed]


@dataclass
class Call:
    argv: tuple[str, ...]
    input: str | None
    env: Mapping[str, str] | None


@dataclass
class FakeRunner:
    """Rules are (argv prefix → answer); unmatched commands succeed with empty output."""

    rules: list[tuple[tuple[str, ...], Answer]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def on(self, *prefix: str, rc: int = 0, stdout: str = "", stderr: str = "") -> FakeRunner:
        self.rules.append((prefix, Completed(prefix, rc, stdout, stderr)))
        return self

    def answer(self, *prefix: str, fn: Callable[[tuple[str, ...], str | None], Completed]) -> None:
        self.rules.append((prefix, fn))

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Completed:
        args = tuple(argv)
        self.calls.append(Call(args, input, env))
        best: tuple[tuple[str, ...], Answer] | None = None
        for prefix, ans in self.rules:
            if args[: len(prefix)] == prefix and (best is None or len(prefix) >= len(best[0])):
                best = (prefix, ans)
        if best is None:
            return Completed(args, 0, "", "")
        ans = best[1]
        done = ans(args, input) if callable(ans) else ans
        return Completed(args, done.returncode, done.stdout, done.stderr)

    def argvs(self) -> list[list[str]]:
        return [list(c.argv) for c in self.calls]


@dataclass
class FakeClock:
    """Monotonic time that only moves when the code under test sleeps."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def cmd() -> FakeRunner:
    return FakeRunner()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
