"""The record of a kept run (demo host-pull → host-stop): round trip, unreadable records,
and stopping only pids that still carry the recorded run id."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from harness import kept, reap
from harness.kept import Kept, KeptRun, Outcome
from harness.process import RUN_ID_ENV, ManagedProcess, pid_alive


def settle_environ(pid: int, run_id: str) -> None:
    """Until /proc/<pid>/environ shows the run id: Popen returns once exec began, a moment
    before the kernel has set up the new environment (a long-running worker is long past)."""
    deadline = time.monotonic() + 5
    while reap.run_id_of(pid) != run_id and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_state_file_lives_in_the_xdg_cache(tmp_path: Path) -> None:
    path = kept.state_file({"XDG_CACHE_HOME": str(tmp_path)})
    assert path == tmp_path / "greentic-demo" / "host-pull.json"


def test_a_recorded_run_loads_back_as_written(tmp_path: Path) -> None:
    run = KeptRun("r1", "/a/r1", {"worker": "http://127.0.0.1:8080"}, (Kept("worker", 42, "r1"),))
    path = kept.record(run, tmp_path / "c" / "host-pull.json")
    assert kept.load(path) == run
    assert kept.load(tmp_path / "absent.json") is None


def test_an_unreadable_record_is_removed_and_says_to_rerun(tmp_path: Path) -> None:
    path = tmp_path / "host-pull.json"
    for junk in ("{not json", '{"kept": [{"pid": "x"}]}', "[1, 2]"):
        path.write_text(junk)
        with pytest.raises(kept.KeptStateUnreadable, match="unreadable; removed it"):
            kept.load(path)
        assert not path.exists()


def test_only_a_pid_that_still_carries_the_run_id_is_stopped() -> None:
    worker = Kept("worker", 7, "r1")
    stopped: list[int] = []

    def stop(pid: int) -> bool:
        stopped.append(pid)
        return True

    assert kept.stop_one(worker, alive=lambda p: False, stop=stop) is Outcome.GONE
    recycled = kept.stop_one(worker, alive=lambda p: True, run_id_of=lambda p: "other", stop=stop)
    assert recycled is Outcome.GONE and stopped == []
    ours = kept.stop_one(worker, alive=lambda p: True, run_id_of=lambda p: "r1", stop=stop)
    assert ours is Outcome.STOPPED and stopped == [7]
    stuck = kept.stop_one(
        worker, alive=lambda p: True, run_id_of=lambda p: "r1", stop=lambda p: False
    )
    assert stuck is Outcome.STUCK


def test_stop_recorded_stops_the_kept_process_and_forgets_the_run(tmp_path: Path) -> None:
    run_id = "kept-unit-test-run"
    proc = ManagedProcess(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env={RUN_ID_ENV: run_id},
        logs_dir=tmp_path,
        name="kept",
        detach=True,
    ).start()
    settle_environ(proc.pid, run_id)
    path = tmp_path / "host-pull.json"
    kept.record(
        KeptRun(run_id, str(tmp_path), {}, (Kept("worker (local)", proc.pid, run_id),)), path
    )
    try:
        report = kept.stop_recorded(path)
        assert report is not None and report.ok
        assert [(s.kept.pid, s.outcome) for s in report.stopped] == [(proc.pid, Outcome.STOPPED)]
        assert not pid_alive(proc.pid) and not path.exists()
        assert kept.stop_recorded(path) is None  # nothing recorded any more
    finally:
        proc.stop()
