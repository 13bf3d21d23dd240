"""State scopes, log lines and the pid file."""

from __future__ import annotations

import os
import re
from pathlib import Path

from greentic.store.layout import env_paths
from greentic.worker import logs, pidfile
from greentic.worker.state import StateStore


def test_state_scopes_are_separate_and_bounded() -> None:
    store = StateStore(max_scopes=2)
    store.scope(("r", "t", "a"))["n"] = 1
    store.scope(("r", "t", "b"))["n"] = 2
    assert store.scope(("r", "t", "a")) == {"n": 1}  # touch a: b is now the oldest
    store.scope(("r", "t", "c"))
    assert len(store) == 2
    assert store.scope(("r", "t", "b")) == {}  # evicted, recreated empty
    assert store.scope(("r", "t", "a")) == {}  # evicted by the line above


def test_log_line_format() -> None:
    line = logs.line("warn", "a\nb", now=0.25)
    assert line == "1970-01-01T00:00:00.250Z WARN  a | b\n"


def test_system_log_appends_timestamped_lines(tmp_path: Path) -> None:
    log = logs.SystemLog(tmp_path / "logs" / "system.log")
    log.write("info", "one")
    log.write("error", "two")
    log.close()
    lines = (tmp_path / "logs" / "system.log").read_text().splitlines()
    assert [ln.split(" ", 1)[1] for ln in lines] == ["INFO  one", "ERROR two"]
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", ln) for ln in lines)


def test_system_log_survives_an_unwritable_dir(tmp_path: Path, capsys: object) -> None:
    blocker = tmp_path / "logs"
    blocker.write_text("a file where the logs dir should be")
    log = logs.SystemLog(blocker / "system.log")
    log.write("info", "dropped")
    assert "continuing without a system.log" in capsys.readouterr().err  # type: ignore[attr-defined]


def test_pid_file_round_trip(tmp_path: Path) -> None:
    paths = env_paths(tmp_path, "local")
    assert pidfile.read(paths) is None
    pidfile.write(paths, "http://127.0.0.1:1")
    record = pidfile.read(paths)
    assert record is not None
    assert record.pid == os.getpid()
    assert pidfile.alive(record)
    assert pidfile.running(paths) is None  # ourselves never count as another worker
    pidfile.remove(paths)
    assert not pidfile.path(paths).exists()


def test_dead_or_recycled_pids_are_not_alive(tmp_path: Path) -> None:
    dead = pidfile.WorkerRecord(pid=2**22 + 12345, start_time=None, url="u")
    assert not pidfile.alive(dead)
    recycled = pidfile.WorkerRecord(pid=os.getpid(), start_time="1", url="u")
    assert not pidfile.alive(recycled)
