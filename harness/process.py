"""A child process handle: start with an exact env and argv, log to files, wait, stop.

stdout and stderr go straight to artifact files (so a detached worker keeps logging after
demo.py exits); waits read those files. `stop()` sends SIGTERM, waits, escalates to SIGKILL
and reports the exit code. Used by the host track (workers) and the OCI registry.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness import waits
from harness.closing import StopOnExit
from harness.errors import HarnessError

RUN_ID_ENV = "GTC_HARNESS_RUN_ID"
STOP_GRACE_S = 5.0


def stop_gracefully(
    popen: subprocess.Popen[Any], grace_s: float = STOP_GRACE_S, *, reap_s: float | None = None
) -> int:
    """SIGTERM, wait up to `grace_s`, then SIGKILL and reap (within `reap_s`, None: no limit).

    The exit code; a process that already exited is only polled. One stop for every child the
    harness (and the bench) spawns, so none of them is left running or a zombie.
    """
    code = popen.poll()
    if code is not None:
        return code
    with contextlib.suppress(ProcessLookupError):
        popen.terminate()
    try:
        return popen.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            popen.kill()
        return popen.wait(timeout=reap_s)


class StartFailed(HarnessError):
    """Raised when a child process cannot be started at all (missing binary, bad cwd)."""


class ManagedProcess(StopOnExit):
    """One child process with file-backed logs.

    Example:
        with ManagedProcess(["docker-registry", "serve", cfg], env=env, logs_dir=d) as p:
            p.wait_for(r"listening on", 5)
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        logs_dir: Path,
        name: str,
        cwd: Path | None = None,
        detach: bool = False,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.name = name
        self.cwd = cwd
        self.detach = detach
        self.stdout_path = logs_dir / f"{name}.stdout.log"
        self.stderr_path = logs_dir / f"{name}.stderr.log"
        self._popen: subprocess.Popen[bytes] | None = None
        self._code: int | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> ManagedProcess:
        """Spawn the process; its output streams to `stdout_path` / `stderr_path`."""
        self.stdout_path.parent.mkdir(parents=True, exist_ok=True)
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            try:
                self._popen = subprocess.Popen(
                    self.argv,
                    env=self.env,
                    cwd=self.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=self.detach,
                )
            except OSError as exc:
                raise StartFailed(
                    f"cannot start {self.name} (`{self.argv[0]}`): {exc.strerror or exc}"
                    "\nHint: is the package installed? run `make setup`"
                ) from None
        return self

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._popen.pid

    def exit_code(self) -> int | None:
        """The exit code once it has exited, else None (signals are negative, as Popen)."""
        if self._code is None and self._popen is not None:
            self._code = self._popen.poll()
        return self._code

    def stop(self, grace_s: float = STOP_GRACE_S) -> int | None:
        """SIGTERM, wait up to `grace_s`, then SIGKILL; the exit code (None if never run)."""
        if self._popen is None:
            return None
        if self.exit_code() is None:
            self._code = stop_gracefully(self._popen, grace_s)
        return self._code

    # -- output -------------------------------------------------------------------------
    def stdout(self) -> str:
        return _read(self.stdout_path)

    def stderr(self) -> str:
        return _read(self.stderr_path)

    def logs(self) -> str:
        """stdout then stderr, for diagnostics."""
        out, err = self.stdout(), self.stderr()
        return out + ("\n--- stderr ---\n" + err if err.strip() else "")

    # -- waits --------------------------------------------------------------------------
    def wait_for(
        self, regex: str, deadline_s: float, *, stream: str = "stdout", hint: str | None = None
    ) -> re.Match[str]:
        """The first match of `regex` in `stream` ("stdout", "stderr" or "logs")."""
        text = {"stdout": self.stdout, "stderr": self.stderr, "logs": self.logs}[stream]
        return waits.until_log(
            self, regex, text=text, timing=waits.Timing(timeout=deadline_s), hint=hint
        ).wait()

    def wait_exited(self, deadline_s: float) -> int:
        """The exit code, once the process exits on its own within `deadline_s`."""
        return waits.until_exit(self, timing=waits.Timing(timeout=deadline_s)).wait()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False
    return state != "Z"


def stop_pid(pid: int, *, grace_s: float = STOP_GRACE_S) -> bool:
    """SIGTERM a process we do not parent (a detached worker), SIGKILL after `grace_s`.

    Returns True when it is gone. The caller checks first that `pid` is really ours.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.05)
    return not pid_alive(pid)
