"""`<env>/logs/system.log`: timestamped lines of what the worker did (SPEC §2, §7).

Boot steps, the banner, pulls, refusals and flow failures are written here (never a secret:
callers pass messages built from ids, URIs and error texts only). If the file cannot be
opened (read-only store) the log says so once on stderr and carries on. Used by the process
module and the app.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import IO, Protocol


class LogSink(Protocol):
    """Where the worker's log lines go."""

    def write(self, level: str, message: str) -> None: ...


class NullLog:
    """A sink that drops everything (unit tests)."""

    def write(self, level: str, message: str) -> None:
        return None


class MemoryLog:
    """A sink that keeps `(level, message)` pairs (unit tests)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def write(self, level: str, message: str) -> None:
        self.lines.append((level, message))


def timestamp(now: float | None = None) -> str:
    """UTC RFC 3339 with milliseconds, e.g. `2026-05-20T10:00:00.123Z`."""
    now = time.time() if now is None else now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def line(level: str, message: str, now: float | None = None) -> str:
    """One log line: `<timestamp> <LEVEL> <message>` (newlines in the message flattened)."""
    flat = message.replace("\r", " ").replace("\n", " | ")
    return f"{timestamp(now)} {level.upper():<5} {flat}\n"


class SystemLog:
    """Appends lines to a file, flushed per line so a crash loses nothing already written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        except OSError as exc:
            print(
                f"warning: cannot write {path} ({exc.strerror or exc}); "
                "continuing without a system.log",
                file=sys.stderr,
            )

    def write(self, level: str, message: str) -> None:
        if self._fh is None:
            return
        try:
            self._fh.write(line(level, message))
        except OSError:
            self._fh = None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
