"""`greentic-start stop` signals only a process it can prove is the env's worker (or tunnel).

A pid file is just a file in the store: a forged one may name any process. Proof is the pid,
the start time recorded for it AND a `greentic-start … --env <id>` command line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from greentic.errors import Conflict
from greentic.store import atomic
from greentic.store.envstore import Store
from greentic.worker import pidfile, process, tunnel

from .envs import EnvBuilder, save_cold

Identity = pidfile.Identity


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def sleep(procs: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """A plain `sleep` process: nothing a stop may ever signal."""
    proc = subprocess.Popen(["sleep", "60"])
    procs.append(proc)
    return proc


def fake_worker(
    procs: list[subprocess.Popen[bytes]], tmp_path: Path, *args: str, environ: dict[str, str]
) -> subprocess.Popen[bytes]:
    """A process whose command line is a real worker's: `<python> …/greentic-start <args>`."""
    script = tmp_path / "bin" / "greentic-start"
    script.parent.mkdir(exist_ok=True)
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    script.chmod(0o755)
    proc = subprocess.Popen([str(script), *args], env={**environ, "PATH": "/usr/bin:/bin"})
    procs.append(proc)
    deadline = time.monotonic() + 10
    while "greentic-start" not in " ".join(pidfile.proc_cmdline(proc.pid) or []):
        assert time.monotonic() < deadline, "the fake worker never exec'd"
        time.sleep(0.01)
    return proc


def record(store_root: Path, pid: int, start_time: str | None) -> Path:
    """Write `local`'s worker pid file naming `pid` (as anyone with store access could)."""
    save_cold(Store(store_root), EnvBuilder().build())
    path = pidfile.path(Store(store_root).paths("local"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "start_time": start_time, "url": "http://x"}))
    return path


def survives(proc: subprocess.Popen[bytes]) -> bool:
    try:
        proc.wait(timeout=0.3)
    except subprocess.TimeoutExpired:
        return True
    return False


@pytest.mark.parametrize("start", ["real", "none"])
def test_a_forged_pid_file_naming_another_process_is_refused_and_removed(
    store_root: Path, procs: list[subprocess.Popen[bytes]], start: str
) -> None:
    victim = sleep(procs)
    start_time = pidfile.proc_start_time(victim.pid) if start == "real" else None
    path = record(store_root, victim.pid, start_time)
    with pytest.raises(Conflict) as err:
        process.stop("local", store_root=str(store_root), environ={})
    assert str(err.value).startswith(f"refusing to signal pid {victim.pid}: {path} names it")
    assert "not greentic-start serving env `local`" in str(err.value)
    assert err.value.hint
    assert survives(victim)
    assert not path.exists()


def test_a_worker_of_another_env_is_refused(
    store_root: Path, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    other = fake_worker(procs, tmp_path, "start", "--env", "other", environ={})
    record(store_root, other.pid, pidfile.proc_start_time(other.pid))
    with pytest.raises(Conflict, match="refusing to signal"):
        process.stop("local", store_root=str(store_root), environ={})
    assert survives(other)


@pytest.mark.parametrize(
    ("args", "environ"),
    [
        (("start", "--env", "local"), {}),
        (("--env=local",), {}),  # `greentic-start --env x` means start
        (("start",), {"GREENTIC_ENV": "local"}),
        ((), {}),  # the default env
    ],
    ids=["explicit", "implicit-start", "env-var", "default"],
)
def test_the_envs_own_worker_is_stopped(
    store_root: Path,
    tmp_path: Path,
    procs: list[subprocess.Popen[bytes]],
    args: tuple[str, ...],
    environ: dict[str, str],
) -> None:
    worker = fake_worker(procs, tmp_path, *args, environ=environ)
    path = record(store_root, worker.pid, pidfile.proc_start_time(worker.pid))
    report = process.stop("local", store_root=str(store_root), environ={})
    assert worker.wait(timeout=5) == -signal.SIGTERM
    assert report == f"stopped greentic-start (pid {worker.pid}) serving env `local` on http://x"
    path.unlink()  # the real worker removes its own on exit


def test_a_recycled_pid_is_a_stale_file_and_nothing_is_signalled(
    store_root: Path, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    worker = fake_worker(procs, tmp_path, "start", "--env", "local", environ={})
    path = record(store_root, worker.pid, "1")  # same pid, another start time
    report = process.stop("local", store_root=str(store_root), environ={})
    assert report.endswith(f"(removed the stale pid file of pid {worker.pid})")
    assert survives(worker)
    assert not path.exists()


def test_a_forged_tunnel_pid_file_is_never_signalled(
    store_root: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    victim = sleep(procs)
    save_cold(Store(store_root), EnvBuilder().build())
    doc = {"pid": victim.pid, "start_time": pidfile.proc_start_time(victim.pid), "worker": 1}
    atomic.write_json(tunnel.pid_path(Store(store_root).paths("local")), doc)
    report = process.stop("local", store_root=str(store_root), environ={})
    assert report == "no greentic-start is serving env `local` (nothing to stop)"
    assert survives(victim)


@pytest.mark.parametrize("pid", [0, -1])
def test_process_groups_are_never_a_pid(pid: int) -> None:
    """kill(0)/kill(-1) signal whole groups: a forged pid <= 0 is never ours (checked directly:
    a stop on such a file with a regression would signal the test run itself)."""
    assert pidfile.identify(pid, "1", lambda _argv: True) is Identity.FOREIGN
    assert not pidfile.alive(pidfile.WorkerRecord(pid=pid, start_time=None, url=""))


def test_identify_verdicts(procs: list[subprocess.Popen[bytes]]) -> None:
    me, start = os.getpid(), pidfile.proc_start_time(os.getpid())
    assert pidfile.identify(me, start, lambda _argv: True) is Identity.OURS
    assert pidfile.identify(me, start, lambda _argv: False) is Identity.FOREIGN
    assert pidfile.identify(me, None, lambda _argv: True) is Identity.FOREIGN
    assert pidfile.identify(me, "1", lambda _argv: True) is Identity.GONE
    assert pidfile.identify(2**22 + 12345, start, lambda _argv: True) is Identity.GONE
    done = sleep(procs)
    done.kill()
    time.sleep(0.1)  # a zombie until reaped
    assert pidfile.identify(done.pid, start, lambda _argv: True) is Identity.GONE


@pytest.mark.parametrize(
    ("argv", "environ_env", "ok"),
    [
        (["/venv/bin/python", "/venv/bin/greentic-start", "start", "--env", "e1"], None, True),
        (["/usr/local/bin/greentic-start", "--env", "e1", "--cloudflared", "on"], None, True),
        (["/venv/bin/python", "/venv/bin/gtc", "start", "--env=e1"], None, True),
        (["greentic-start", "start"], "e1", True),
        (["greentic-start", "start", "--env", "e2"], "e1", False),
        (["greentic-start", "stop", "--env", "e1"], None, False),
        (["gtc", "op", "env", "show", "e1"], None, False),
        (["gtc", "--env", "e1"], None, False),
        (["greentic-start", "start", "--env", "e1", "--help"], None, False),
        (["sleep", "60"], None, False),
        (["python", "-c", "pass", "greentic-start", "--env", "e1"], None, False),
        (["greentic-start"], None, False),  # serves `local`
    ],
)
def test_is_worker(argv: list[str], environ_env: str | None, ok: bool) -> None:
    assert pidfile.is_worker(argv, "e1", environ_env) is ok


@pytest.mark.parametrize(
    ("argv", "ok"),
    [
        (["/bin/cloudflared", "tunnel", "--url", "http://127.0.0.1:8080", "--no-autoupdate"], True),
        (["python", "fake.py", "tunnel", "--url", "http://127.0.0.1:1", "--no-autoupdate"], True),
        (["cloudflared", "tunnel", "--url", "http://10.0.0.1:80", "--no-autoupdate"], False),
        (["cloudflared", "tunnel", "--url", "http://127.0.0.1:x", "--no-autoupdate"], False),
        (["sleep", "60"], False),
        ([], False),
    ],
)
def test_is_tunnel(argv: list[str], ok: bool) -> None:
    assert tunnel.is_tunnel(argv) is ok
