"""The cloudflared quick tunnel in front of the worker (SPEC §7, reference worker §6.1).

Binary: `--cloudflared-binary` (relative to the env dir), `$GREENTIC_OPERATOR_BINARY_CLOUDFLARED`,
`<env_dir>/bin/cloudflared`, PATH — never downloaded. Spawned directly after the listener is
bound, in its own process group and (Linux) with PR_SET_PDEATHSIG so a crashed worker never
leaves it behind; output to `logs/cloudflared.log`, pid in `state/pids/env.<env>/`. The public
URL is the first `https://…trycloudflare.com` in the log, within a deadline. Used by `process`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from greentic.errors import IoError, NotFound
from greentic.store.layout import EnvPaths
from greentic.worker import pidfile

BINARY_ENV = "GREENTIC_OPERATOR_BINARY_CLOUDFLARED"
URL_TIMEOUT_ENV = "GREENTIC_CLOUDFLARED_URL_TIMEOUT"
READY_TIMEOUT_ENV = "GREENTIC_TUNNEL_READY_TIMEOUT"
DEFAULT_URL_TIMEOUT = 10.0
DEFAULT_READY_TIMEOUT = 30.0
POLL_SECONDS = 0.1
STOP_GRACE_SECONDS = 3.0
TRIM = ")," + "|\"'" + "]><"
SUFFIX = ".trycloudflare.com"
PR_SET_PDEATHSIG = 1


def scan_url(text: str) -> str | None:
    """The first `https://` token (up to whitespace, trailing `) , | " ' ] > <` trimmed) that
    ends in `.trycloudflare.com`, as upstream scans — no regex."""
    start = text.find("https://")
    while start >= 0:
        end = start
        while end < len(text) and not text[end].isspace():
            end += 1
        candidate = text[start:end].rstrip(TRIM)
        if candidate.endswith(SUFFIX) and len(candidate) > len("https://") + len(SUFFIX):
            return candidate
        start = text.find("https://", start + 1)
    return None


def seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    """A non-negative number of seconds from the environment, else the default."""
    raw = environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if value >= 0 else default


def _usable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def resolve_binary(
    flag: str | None,
    env_dir: Path,
    environ: Mapping[str, str],
    which: Callable[[str], str | None] = shutil.which,
) -> Path:
    """The cloudflared to run (module docstring order), or one NotFound naming the fix."""
    hint = f"pass --cloudflared-binary PATH or set {BINARY_ENV} to a cloudflared executable"
    if flag:
        path = Path(flag) if Path(flag).is_absolute() else env_dir / flag
        if not _usable(path):
            raise NotFound(
                f"explicit binary path not found: {path} (from --cloudflared-binary `{flag}`, "
                f"resolved against the env dir {env_dir}) is not an executable file",
                hint=hint,
            )
        return path
    from_env = environ.get(BINARY_ENV, "").strip()
    if from_env:
        if not _usable(Path(from_env)):
            raise NotFound(f"{BINARY_ENV}=`{from_env}` is not an executable file", hint=hint)
        return Path(from_env)
    local = env_dir / "bin" / "cloudflared"
    if _usable(local):
        return local
    found = which("cloudflared")
    if found:
        return Path(found)
    raise NotFound(
        f"cloudflared not found: no --cloudflared-binary, no {BINARY_ENV}, no {local} and none "
        "on PATH (greentic-start never downloads it)",
        hint=hint,
    )


def state_dir(paths: EnvPaths) -> Path:
    return paths.dir / "state" / "pids" / f"env.{paths.env_id}"


def pid_path(paths: EnvPaths) -> Path:
    return state_dir(paths) / "cloudflared.pid"


def runtime_dir(paths: EnvPaths) -> Path:
    return paths.dir / "state" / "runtime" / f"env.{paths.env_id}"


def log_path(paths: EnvPaths) -> Path:
    return paths.logs / "cloudflared.log"


def _death_signal() -> Callable[[], None] | None:
    """A preexec hook that makes the child die with its parent (Linux), else None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def hook() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


@dataclass
class Tunnel:
    """A running cloudflared child of this worker."""

    proc: subprocess.Popen[bytes]
    log: Path
    pid_file: Path
    url: str = ""

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM its process group, SIGKILL after `grace`; removes the pid file."""
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait()
        self.pid_file.unlink(missing_ok=True)

    def _signal(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.proc.pid, sig)  # its own group: we created it, nothing else is in it
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)


def _args(port: int) -> list[str]:
    return ["tunnel", "--url", f"http://127.0.0.1:{port}", "--no-autoupdate"]


def is_tunnel(argv: Sequence[str]) -> bool:
    """Whether `argv` ends as `spawn` runs cloudflared (any binary, any loopback port)."""
    tail = list(argv[-4:])
    port = tail[2].removeprefix("http://127.0.0.1:") if len(tail) == 4 else ""
    return port.isascii() and port.isdigit() and tail == _args(int(port))


def spawn(binary: Path, port: int, paths: EnvPaths) -> Tunnel:
    """Start `<bin> tunnel --url http://127.0.0.1:<port> --no-autoupdate` (no shell)."""
    log = log_path(paths)
    pid_file = pid_path(paths)
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        out = open(log, "wb")  # noqa: SIM115 - handed to the child, closed right after
    except OSError as exc:
        raise IoError(f"cannot write {log}: {exc.strerror or exc}") from None
    argv = [str(binary), *_args(port)]
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_death_signal(),  # spawned before the server threads start
            close_fds=True,
        )
    except OSError as exc:
        raise IoError(f"cannot run {binary}: {exc.strerror or exc}") from None
    finally:
        out.close()
    doc = {"pid": proc.pid, "start_time": pidfile.proc_start_time(proc.pid), "worker": os.getpid()}
    try:
        from greentic.store import atomic

        atomic.write_json(pid_file, doc, durable=False)
    except OSError:
        pass  # `stop` then cannot report it; the worker still stops it on exit
    return Tunnel(proc=proc, log=log, pid_file=pid_file)


class TunnelFailed(Exception):
    """Raised when no public URL shows up; `str()` names the log to read."""


def wait_for_url(
    tunnel: Tunnel,
    *,
    timeout: float,
    should_stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """The public URL from the tunnel's log; None when asked to stop first."""
    deadline = time.monotonic() + timeout
    while True:
        exited = tunnel.proc.poll()
        try:
            url = scan_url(tunnel.log.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            url = None
        if url:
            tunnel.url = url
            return url
        if exited is not None:
            raise TunnelFailed(
                f"cloudflared exited with code {exited} before printing a public URL; "
                f"see {tunnel.log}"
            )
        if should_stop():
            return None
        if time.monotonic() >= deadline:
            raise TunnelFailed(f"timed out waiting for cloudflared public URL in {tunnel.log}")
        sleep(POLL_SECONDS)


def save_url(paths: EnvPaths, url: str) -> None:
    """Cache the URL at `state/runtime/env.<env>/public_base_url.txt` (best effort)."""
    with contextlib.suppress(OSError):
        from greentic.store import atomic

        atomic.write_bytes(runtime_dir(paths) / "public_base_url.txt", (url + "\n").encode())


def recorded(paths: EnvPaths) -> pidfile.WorkerRecord | None:
    """The tunnel this env's worker started, if its pid file names a live process provably
    ours (same start time, cloudflared's command line: `pidfile.identify`)."""
    try:
        doc = json.loads(pid_path(paths).read_bytes())
        record = pidfile.WorkerRecord(pid=int(doc["pid"]), start_time=doc.get("start_time"), url="")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    ours = pidfile.identify(record.pid, record.start_time, is_tunnel) is pidfile.Identity.OURS
    return record if ours else None


def reachable(
    url: str,
    *,
    timeout: float,
    head: Callable[[str], object],
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """None once `HEAD url` answers, else the last error after `timeout` s (backoff 400 ms,
    800 ms, then 1.6 s)."""
    deadline = time.monotonic() + timeout
    attempt = 0
    error = "no attempt"
    while time.monotonic() < deadline:
        try:
            head(url)
            return None
        except Exception as exc:  # any failure is one more try; only the last is reported
            error = str(exc) or type(exc).__name__
        attempt += 1
        sleep(min(0.2 * 2 ** min(attempt, 3), max(0.0, deadline - time.monotonic())))
    return error
