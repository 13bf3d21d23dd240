"""Sweep what a run left behind, by run id: host processes here, containers/clusters by hooks.

Every process the harness starts carries `GTC_HARNESS_RUN_ID=<run-id>` in its environment, so
a sweep finds it through /proc even after the run that started it has gone. The docker and
kind tracks register label sweeps with `register()`. Called by the runner after each run,
from `atexit`, and by `demo.py host-stop` / `prune`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from harness.process import RUN_ID_ENV, stop_pid

Sweeper = Callable[[str], list[str]]
_SWEEPERS: list[Sweeper] = []


def register(sweeper: Sweeper) -> None:
    """Add a sweep (run id → what it removed), e.g. a docker label sweep."""
    if sweeper not in _SWEEPERS:
        _SWEEPERS.append(sweeper)


def run_id_of(pid: int) -> str | None:
    """The harness run id in `pid`'s environment, or None (not ours, gone, or unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = f"{RUN_ID_ENV}=".encode()
    for entry in raw.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode("utf-8", "replace")
    return None


def pids_of_run(run_id: str) -> list[int]:
    """Live processes (of this user) started by the harness for `run_id`."""
    me = os.getpid()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != me and run_id_of(int(entry.name)) == run_id:
            found.append(int(entry.name))
    return sorted(found)


def reap_processes(run_id: str) -> list[str]:
    """Stop every leftover process of `run_id`; describe what was stopped."""
    return [f"process {pid}" for pid in pids_of_run(run_id) if stop_pid(pid)]


register(reap_processes)


def reap(run_id: str) -> list[str]:
    """Run every registered sweep for `run_id`; a failing sweep does not stop the others."""
    removed: list[str] = []
    for sweeper in list(_SWEEPERS):
        try:
            removed += sweeper(run_id)
        except Exception as exc:  # a sweep is best effort; report, never mask the run's result
            removed.append(f"sweep {getattr(sweeper, '__name__', sweeper)} failed: {exc}")
    return removed
