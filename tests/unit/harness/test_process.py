"""ManagedProcess: file-backed logs, banner waits, fail-fast exit, stop; stop_gracefully."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness import reap
from harness.process import (
    RUN_ID_ENV,
    ManagedProcess,
    StartFailed,
    pid_alive,
    stop_gracefully,
    stop_pid,
)
from harness.waits import ProcessExited

SERVER = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("booting", flush=True)
print("serving 1 revision(s) for env `local` on http://127.0.0.1:1", flush=True)
print("warn", file=sys.stderr, flush=True)
time.sleep(60)
"""


def python(tmp_path: Path, code: str, name: str = "p", **kw: object) -> ManagedProcess:
    return ManagedProcess(
        [sys.executable, "-c", code],
        env={RUN_ID_ENV: "test-run-" + tmp_path.name},
        logs_dir=tmp_path,
        name=name,
        **kw,  # type: ignore[arg-type]
    )


def test_waits_for_the_banner_and_stops_with_sigterm(tmp_path: Path) -> None:
    with python(tmp_path, SERVER) as proc:
        match = proc.wait_for(r"serving (\d+) revision", 10)
        assert match.group(1) == "1"
        proc.wait_for("warn", 10, stream="stderr")
        assert "--- stderr ---\nwarn" in proc.logs()
        assert proc.exit_code() is None
        assert proc.stop() == 0
    assert (tmp_path / "p.stdout.log").read_text().startswith("booting")


def test_a_process_that_exits_fails_the_banner_wait_fast(tmp_path: Path) -> None:
    code = "import sys; print('Error: port in use', file=sys.stderr); sys.exit(2)"
    with python(tmp_path, code) as proc, pytest.raises(ProcessExited) as info:
        proc.wait_for("serving", 30)
    assert info.value.code == 2
    assert "port in use" in str(info.value)
    assert proc.wait_exited(1) == 2


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "print('x', flush=True); time.sleep(60)"
    )
    with python(tmp_path, code) as proc:
        proc.wait_for("x", 10)
        assert proc.stop(grace_s=0.2) == -9


def test_a_missing_binary_is_a_clear_start_failure(tmp_path: Path) -> None:
    proc = ManagedProcess(["/nonexistent/greentic-start"], env={}, logs_dir=tmp_path, name="w")
    with pytest.raises(StartFailed, match=r"(?s)cannot start w .*make setup"):
        proc.start()


def test_detached_processes_are_found_by_run_id_and_stopped_by_pid(tmp_path: Path) -> None:
    proc = python(tmp_path, SERVER, detach=True).start()
    try:
        proc.wait_for("serving", 10)
        run_id = "test-run-" + tmp_path.name
        assert reap.run_id_of(proc.pid) == run_id
        assert reap.pids_of_run(run_id) == [proc.pid]
        assert stop_pid(proc.pid)
        proc.stop()
        assert not pid_alive(proc.pid)
    finally:
        proc.stop()


def test_stop_gracefully_terminates_escalates_and_leaves_an_exited_child_alone() -> None:
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert stop_gracefully(polite, 5) == -signal.SIGTERM
    ignores_sigterm = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "print('x', flush=True); time.sleep(60)"
    )
    stubborn = subprocess.Popen([sys.executable, "-c", ignores_sigterm], stdout=subprocess.PIPE)
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"x\n"
    assert stop_gracefully(stubborn, 0.2, reap_s=5) == -signal.SIGKILL
    done = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    done.wait()
    assert stop_gracefully(done, 0) == 3
