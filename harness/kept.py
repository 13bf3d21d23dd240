"""What a run leaves running on purpose, and the record a later process stops it by.

`demo.py host-pull` keeps its worker serving after demo.py exits; `host-stop` runs in another
process, so the run is recorded in a small JSON file (`$XDG_CACHE_HOME/greentic-demo/
host-pull.json`). Stopping touches only pids that still carry the recorded run id in their
environment (a recycled pid is someone else's), then sweeps that run id. Used by
`harness.host.track` (which keeps), `harness.context` (which reports) and `demo.py`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from harness import reap
from harness.errors import HarnessError
from harness.process import pid_alive, stop_pid

STATE_NAME = Path("greentic-demo") / "host-pull.json"


class KeptStateUnreadable(HarnessError):
    """Raised when the record of a kept run is not valid JSON (it is removed)."""


@dataclass(frozen=True)
class Kept:
    """A process a run deliberately leaves running (demo host-pull's worker)."""

    what: str
    pid: int
    run_id: str

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "pid": self.pid, "run_id": self.run_id}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], run_id: str) -> Kept:
        return cls(
            what=str(doc["what"]), pid=int(doc["pid"]), run_id=str(doc.get("run_id", run_id))
        )


@dataclass(frozen=True)
class KeptRun:
    """A run that left processes serving: what a later `host-stop` needs to stop them."""

    run_id: str
    artifacts: str
    urls: dict[str, str] = field(default_factory=dict)
    kept: tuple[Kept, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "artifacts": self.artifacts,
            "urls": self.urls,
            "kept": [k.to_json() for k in self.kept],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> KeptRun:
        run_id = str(doc.get("run_id", ""))
        return cls(
            run_id=run_id,
            artifacts=str(doc.get("artifacts", "")),
            urls={str(k): str(v) for k, v in dict(doc.get("urls", {})).items()},
            kept=tuple(Kept.from_json(k, run_id) for k in doc.get("kept", [])),
        )


class Outcome(StrEnum):
    """What stopping one kept process came to."""

    STOPPED = "stopped"
    GONE = "gone"  # no longer running, or its pid now belongs to another process
    STUCK = "stuck"  # survived SIGTERM and SIGKILL


@dataclass(frozen=True)
class Stopped:
    """One kept process and what stopping it came to."""

    kept: Kept
    outcome: Outcome


@dataclass(frozen=True)
class StopReport:
    """Everything `stop_recorded` did: per process, plus what the run-id sweep removed."""

    run: KeptRun
    stopped: tuple[Stopped, ...]
    swept: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return all(s.outcome is not Outcome.STUCK for s in self.stopped)


def state_file(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CACHE_HOME/greentic-demo/host-pull.json` (default `~/.cache`)."""
    env = os.environ if environ is None else environ
    cache = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / STATE_NAME


def record(run: KeptRun, path: Path | None = None) -> Path:
    """Write the record of `run` (replacing an earlier one); its path."""
    target = path or state_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(run.to_json(), indent=2) + "\n", encoding="utf-8")
    return target


def load(path: Path | None = None) -> KeptRun | None:
    """The recorded run, or None when nothing is recorded. An unreadable record is removed
    and raises `KeptStateUnreadable` (rerunning host-stop then finds nothing)."""
    target = path or state_file()
    try:
        doc = json.loads(target.read_text(encoding="utf-8"))
        return KeptRun.from_json(doc)
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError):
        target.unlink(missing_ok=True)
        raise KeptStateUnreadable(
            f"{target} was unreadable; removed it\nHint: rerun host-stop"
        ) from None


def stop_one(
    kept: Kept,
    *,
    alive: Callable[[int], bool] = pid_alive,
    run_id_of: Callable[[int], str | None] = reap.run_id_of,
    stop: Callable[[int], bool] = stop_pid,
) -> Outcome:
    """Stop `kept` if its pid is still alive AND still carries its run id."""
    if not alive(kept.pid) or run_id_of(kept.pid) != kept.run_id:
        return Outcome.GONE
    return Outcome.STOPPED if stop(kept.pid) else Outcome.STUCK


def stop_recorded(path: Path | None = None) -> StopReport | None:
    """Stop what the recorded run left running, sweep its run id, forget it; None when
    nothing is recorded."""
    target = path or state_file()
    run = load(target)
    if run is None:
        return None
    stopped = tuple(Stopped(k, stop_one(k)) for k in run.kept)
    swept = tuple(reap.reap(run.run_id)) if run.run_id else ()
    target.unlink(missing_ok=True)
    return StopReport(run=run, stopped=stopped, swept=swept)
