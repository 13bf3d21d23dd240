"""What a scenario run carries (`ScenarioContext`) and what it returns (`ScenarioResult`).

`ctx.check(...)` is the one way a scenario asserts: it writes the evidence to
`artifacts/<run-id>/`, records the Check, tells the reporter (demo.py prints a green line)
and raises `CheckFailed` when it does not hold. `ctx.backend` is the track's backend, built
and injected by `harness.runner`; `ctx.can(capability)` is how a scenario asks what the track
does. A context is a `harness.tracks.RunScope`, all a backend sees of it (this module imports
tracks, never the other way round). Read by every scenario and `demo.py`.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol

from harness.artifacts import Artifacts
from harness.errors import HarnessError
from harness.kept import Kept
from harness.tracks import Capability, WorkerBackend

REPO_ROOT = Path(__file__).resolve().parent.parent


class CheckFailed(HarnessError):
    """Raised by `ctx.check` when an assertion of a scenario does not hold."""

    def __init__(self, check: Check, *, hint: str | None = None) -> None:
        super().__init__(f"{check.name}: {check.detail}" + (f"\nHint: {hint}" if hint else ""))
        self.check = check
        self.hint = hint


@dataclass(frozen=True)
class Check:
    """One assertion's outcome: what was checked, whether it held, and what was seen."""

    name: str
    ok: bool
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class ScenarioResult:
    """What `run(ctx)` returns; demo.py prints it, pytest asserts `ok`.

    A run the track cannot host (it lacks a capability in the scenario's `NEEDS`) never
    starts: `skipped` holds the reason and `ok` is False, so nobody counts it as a pass;
    pytest turns it into `pytest.skip(reason)`, demo.py prints SKIP with the reason.
    """

    name: str
    track: str
    variant: str | None
    ok: bool
    checks: list[Check]
    artifacts: Path
    run_id: str
    urls: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    error: str | None = None
    elapsed_s: float = 0.0
    skipped: str | None = None

    @property
    def outcome(self) -> str:
        """`passed`, `failed` or `skipped`."""
        if self.skipped is not None:
            return "skipped"
        return "passed" if self.ok else "failed"

    def summary(self) -> str:
        """One paragraph for a failed assertion message: the error and the failed checks."""
        failed = [f"  ✗ {c.name}: {c.detail}" for c in self.checks if not c.ok]
        lines = [f"{self.name} [{self.track}{'/' + self.variant if self.variant else ''}]"]
        lines += failed
        if self.skipped:
            lines.append(f"  skipped: {self.skipped}")
        if self.error:
            lines.append(f"  error: {self.error}")
        lines.append(f"  artifacts: {self.artifacts}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "track": self.track,
            "variant": self.variant,
            "ok": self.ok,
            "outcome": self.outcome,
            "skipped": self.skipped,
            "run_id": self.run_id,
            "checks": [c.to_json() for c in self.checks],
            "artifacts": str(self.artifacts),
            "urls": self.urls,
            "notes": self.notes,
            "kept": [k.to_json() for k in self.kept],
            "error": self.error,
            "elapsed_s": round(self.elapsed_s, 3),
        }


class Reporter(Protocol):
    """Where live progress goes: demo.py prints it; pytest discards it."""

    def step(self, text: str) -> None: ...

    def check(self, check: Check) -> None: ...


class QuietReporter:
    """A reporter that drops everything (pytest; the artifacts still get it all)."""

    def step(self, text: str) -> None:
        return None

    def check(self, check: Check) -> None:
        return None


def new_run_id(name: str, track: str, variant: str | None = None) -> str:
    """`<name>-<track>[-<variant>]-<MMDD-HHMMSS>-<4 hex>`: unique across parallel runs."""
    parts = [name, track, *([variant] if variant else [])]
    slug = re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")
    return f"{slug}-{time.strftime('%m%d-%H%M%S')}-{secrets.token_hex(2)}"


@dataclass
class ScenarioContext:
    """Everything one scenario run needs; resources it opens go on `stack`.

    Example: `worker = ctx.backend.start(ctx, "local")`, then
    `ctx.check("banner", ok, detail, evidence={"stdout.txt": worker.stdout()})`.
    `worker_backend` is injected by the runner (`harness.tracks.backend_for(track)`).
    """

    name: str
    track: str
    variant: str | None
    run_id: str
    artifacts: Artifacts
    work_dir: Path
    store_root: Path
    keep: bool
    stack: ExitStack
    reporter: Reporter = field(default_factory=QuietReporter)
    repo_root: Path = REPO_ROOT
    checks: list[Check] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)
    worker_backend: WorkerBackend | None = None

    @property
    def backend(self) -> WorkerBackend:
        """Where workers run on this track."""
        if self.worker_backend is None:
            raise HarnessError(
                f"run `{self.run_id}` has no `{self.track}` backend"
                "\nHint: run scenarios through harness.runner.execute, which injects it"
            )
        return self.worker_backend

    def can(self, capability: Capability) -> bool:
        """Whether this run's track has `capability` (where tracks behave differently)."""
        return capability in self.backend.capabilities

    @property
    def fixtures(self) -> Path:
        return self.repo_root / "fixtures" / "bundles"

    def step(self, text: str) -> None:
        """Announce a phase ("prepare: author the store with gtc op"); logged to artifacts."""
        self._timeline(text)
        self.reporter.step(text)

    def _timeline(self, text: str) -> None:
        elapsed = time.monotonic() - self.started_at
        self.artifacts.append_line("steps.log", f"{elapsed:7.3f}s {text}")

    def check(
        self,
        name: str,
        ok: bool,
        detail: str = "",
        *,
        evidence: Mapping[str, Any] | None = None,
        hint: str | None = None,
    ) -> Check:
        """Record one assertion; write `evidence` files first; raise CheckFailed if not ok."""
        for file_name, content in (evidence or {}).items():
            if isinstance(content, str | bytes):
                text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
                self.artifacts.write_text(f"evidence/{file_name}", text)
            else:
                self.artifacts.write_json(f"evidence/{file_name}", content)
        result = Check(name=name, ok=ok, detail=detail)
        self.checks.append(result)
        self.artifacts.append_json("checks.jsonl", result.to_json())
        self._timeline(f"{'✓' if ok else '✗'} {name}")
        self.reporter.check(result)
        if not ok:
            raise CheckFailed(result, hint=hint)
        return result

    def fail(
        self,
        name: str,
        detail: str,
        *,
        evidence: Mapping[str, Any] | None = None,
        hint: str | None = None,
    ) -> NoReturn:
        """Record a failed assertion (evidence first) and raise CheckFailed."""
        self.check(name, False, detail, evidence=evidence, hint=hint)
        raise AssertionError("ctx.check raises on a failed check")  # pragma: no cover

    def keep_running(self, kept: Kept) -> None:
        """Record a process this run leaves serving on purpose (host-stop stops it)."""
        self.kept.append(kept)

    def result(self, *, error: str | None = None, skipped: str | None = None) -> ScenarioResult:
        """The result so far: ok when it ran, no check failed and no error ended it."""
        ok = error is None and skipped is None and all(c.ok for c in self.checks)
        return ScenarioResult(
            name=self.name,
            track=self.track,
            variant=self.variant,
            ok=ok,
            checks=list(self.checks),
            artifacts=self.artifacts.dir,
            run_id=self.run_id,
            urls=dict(self.urls),
            notes=list(self.notes),
            kept=list(self.kept),
            error=error,
            elapsed_s=time.monotonic() - self.started_at,
            skipped=skipped,
        )
