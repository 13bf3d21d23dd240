"""`<env>/state/pids/worker.json`: which process serves an env, so `stop` can find it.

Written atomically once the listener is bound, removed when the worker exits. It records the
pid, the process start time (from /proc, so a recycled pid — e.g. pid 1 of a restarted
container — is never mistaken for the old worker) and the URL. `claim` flocks
`worker.lock` for the whole life of the process, so two workers started at the same instant
cannot both boot the env (the pid file alone appears only after the bind). Used by `process`.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from greentic.store import atomic
from greentic.store.layout import EnvPaths


@dataclass(frozen=True)
class WorkerRecord:
    """A worker as its pid file describes it."""

    pid: int
    start_time: str | None
    url: str


def path(paths: EnvPaths) -> Path:
    return paths.dir / "state" / "pids" / "worker.json"


def lock_path(paths: EnvPaths) -> Path:
    return paths.dir / "state" / "pids" / "worker.lock"


def claim(paths: EnvPaths) -> int | None:
    """Take the env's worker lock without waiting: the held fd (keep it open while serving),
    or None when another process holds it. OSError when the lock file cannot be created."""
    lock = lock_path(paths)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError:
        os.close(fd)
        raise
    return fd


def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (state first), or None without /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after the last `)` are plain.
    return stat[stat.rfind(")") + 2 :].split()


def proc_start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot), or None without /proc."""
    fields = _proc_stat(pid)
    return fields[19] if fields and len(fields) > 19 else None


def alive(record: WorkerRecord) -> bool:
    """Whether the recorded process still runs (and is the same process, where /proc says)."""
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _proc_stat(record.pid)
    if fields is None:
        return True
    if fields[0] in ("Z", "X"):  # exited, waiting for its parent to reap it
        return False
    return record.start_time is None or (len(fields) > 19 and fields[19] == record.start_time)


def read(paths: EnvPaths) -> WorkerRecord | None:
    """The pid file's record, or None when absent or unreadable."""
    try:
        doc = json.loads(path(paths).read_bytes())
        return WorkerRecord(pid=int(doc["pid"]), start_time=doc.get("start_time"), url=doc["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running(paths: EnvPaths) -> WorkerRecord | None:
    """The live worker of this env other than ourselves, or None."""
    record = read(paths)
    if record is None or record.pid == os.getpid() or not alive(record):
        return None
    return record


def write(paths: EnvPaths, url: str) -> None:
    pid = os.getpid()
    doc = {"pid": pid, "start_time": proc_start_time(pid), "url": url}
    atomic.write_json(path(paths), doc, durable=False)  # runtime state: no fsync on boot path


def remove(paths: EnvPaths) -> None:
    """Remove our pid file (only if it is still ours)."""
    record = read(paths)
    if record is None or record.pid == os.getpid():
        atomic.remove(path(paths))
