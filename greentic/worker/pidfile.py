"""`<env>/state/pids/worker.json`: which process serves an env, so `stop` can find it.

Written atomically once the listener is bound, removed when the worker exits. It records the
pid, the process start time (from /proc, so a recycled pid — e.g. pid 1 of a restarted
container — is never mistaken for the old worker) and the URL. `claim` flocks
`worker.lock` for the whole life of the process, so two workers started at the same instant
cannot both boot the env (the pid file alone appears only after the bind). Used by `process`.

Anyone who can write the store can write a pid file, so a signal goes only to a process this
module can prove is the one meant (`identify`, also used for the tunnel's pid file): same pid,
same recorded start time AND a command line of the expected shape (`is_worker`); `send` pins
the process with a pidfd so a pid reused between the check and the signal is never hit.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import json
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from greentic.store import atomic
from greentic.store.layout import EnvPaths

PROGRAMS = ("greentic-start", "gtc")  # the console scripts that run `start`
DEFAULT_ENV = "local"  # what a bare `greentic-start` serves (greentic.cli.start.DEFAULT_ENV)
ENV_VAR = "GREENTIC_ENV"


@dataclass(frozen=True)
class WorkerRecord:
    """A worker as its pid file describes it."""

    pid: int
    start_time: str | None
    url: str


class Identity(enum.Enum):
    """What the process a pid file names turns out to be."""

    OURS = "ours"  # running, same start time, the expected command line
    GONE = "gone"  # exited, a zombie, or its pid reused by a later process
    FOREIGN = "foreign"  # a live process nothing proves is ours: never signal it
    UNKNOWN = "unknown"  # no /proc here: nothing can be proven either way


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


def proc_cmdline(pid: int) -> list[str] | None:
    """The argv of `pid` from /proc/<pid>/cmdline, or None when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    raw = raw.rstrip(b"\0")
    return [arg.decode(errors="replace") for arg in raw.split(b"\0")] if raw else []


def proc_environ(pid: int, name: str) -> str | None:
    """One variable of `pid`'s environment (readable for our own processes only), or None."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = name.encode() + b"="
    for item in raw.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix) :].decode(errors="replace")
    return None


def _has_proc() -> bool:
    return Path("/proc/self/stat").exists()


def alive(record: WorkerRecord) -> bool:
    """Whether the recorded process still runs (and is the same process, where /proc says).
    Enough to refuse a second start; never enough to signal it (that is `identify`)."""
    if record.pid <= 0:
        return False
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


def identify(
    pid: int, start_time: str | None, expected: Callable[[Sequence[str]], bool]
) -> Identity:
    """Whether `pid` is provably the process a pid file recorded: alive, started at
    `start_time`, and running a command line `expected` accepts."""
    if pid <= 0:  # kill(0) / kill(-1) would signal whole process groups
        return Identity.FOREIGN
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return Identity.GONE
    except PermissionError:
        pass  # another user's process: /proc still says what it is
    fields = _proc_stat(pid)
    if fields is None:
        return Identity.GONE if _has_proc() else Identity.UNKNOWN
    if fields[0] in ("Z", "X"):
        return Identity.GONE
    if start_time is None:
        return Identity.FOREIGN
    if len(fields) <= 19 or fields[19] != start_time:
        return Identity.GONE
    argv = proc_cmdline(pid)
    return Identity.OURS if argv and expected(argv) else Identity.FOREIGN


def send(
    pid: int, start_time: str | None, expected: Callable[[Sequence[str]], bool], sig: int
) -> Identity:
    """Signal `pid` only when `identify` says OURS; the verdict. ProcessLookupError when it
    exited meanwhile, PermissionError when it is another user's."""
    fd: int | None = None
    with contextlib.suppress(OSError, AttributeError):  # no pidfd (old kernel, not Linux)
        fd = os.pidfd_open(pid) if pid > 0 else None
    try:
        who = identify(pid, start_time, expected)
        if who is Identity.OURS:
            if fd is not None:
                signal.pidfd_send_signal(fd, sig)  # the process checked, even if pid reused
            else:
                os.kill(pid, sig)
        return who
    finally:
        if fd is not None:
            os.close(fd)


def _last_option(args: Sequence[str], name: str) -> str | None:
    value = None
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(name + "="):
            value = arg[len(name) + 1 :]
    return value


def is_worker(argv: Sequence[str], env_id: str, environ_env: str | None) -> bool:
    """Whether `argv` is `greentic-start [start] … --env <env_id>` (or `gtc start …`), run
    directly or by its interpreter; `environ_env` is that process's $GREENTIC_ENV, which
    names the env when no `--env` is given."""
    at = next((i for i, arg in enumerate(argv[:2]) if Path(arg).name in PROGRAMS), None)
    if at is None:
        return False
    args = list(argv[at + 1 :])
    if args and args[0] == "start":
        args = args[1:]
    elif Path(argv[at]).name != "greentic-start" or (args and not args[0].startswith("-")):
        return False  # `gtc` needs `start`; `greentic-start stop` / other commands are not it
    if "-h" in args or "--help" in args:
        return False
    named = _last_option(args, "--env") or (environ_env or "").strip() or DEFAULT_ENV
    return named == env_id


def read(paths: EnvPaths) -> WorkerRecord | None:
    """The pid file's record, or None when absent or unreadable."""
    try:
        doc = json.loads(path(paths).read_bytes())
        start = doc.get("start_time")
        return WorkerRecord(
            pid=int(doc["pid"]), start_time=None if start is None else str(start), url=doc["url"]
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
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


def discard(paths: EnvPaths, record: WorkerRecord) -> None:
    """Remove a stale pid file, unless a worker replaced it since it was read."""
    if read(paths) == record:
        path(paths).unlink(missing_ok=True)


def remove(paths: EnvPaths) -> None:
    """Remove our pid file (only if it is still ours)."""
    record = read(paths)
    if record is None or record.pid == os.getpid():
        atomic.remove(path(paths))
