"""One worker process, start to finish: boot → bind → pid file → banner → serve → exit 0.

`start` is what `greentic-start start --env <id>` runs; `stop` is `greentic-start stop`
(SIGTERM to the pid in the env's pid file once proven to be that env's worker — same start
time, greentic-start command line — then a short wait). Banners are SPEC §7's, printed
on stdout and flushed at once (harnesses wait for them), and written to `logs/system.log`.
Failures raise the GreenticError the CLI prints; nothing here exits the process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from greentic.errors import Conflict, GreenticError, IoError
from greentic.store.envstore import Store
from greentic.store.layout import EnvPaths
from greentic.worker import boot, listeners, pidfile
from greentic.worker.activation import Activation
from greentic.worker.listeners import Address
from greentic.worker.logs import LogSink, SystemLog
from greentic.worker.redact import RedactingLog, Redactor

if TYPE_CHECKING:
    from greentic.worker.public import PublicSide

STOP_WAIT_SECONDS = 1.0
TUNNEL_STOP_SECONDS = 4.0  # the worker stops its cloudflared (SIGTERM, then SIGKILL at 3 s)


@dataclass(frozen=True)
class StartOptions:
    """The `start` command's inputs."""

    env_id: str
    store_root: str | None = None
    cloudflared: bool = False
    cloudflared_binary: str | None = None


def banner(activation: Activation, env_id: str, address: Address) -> str:
    """The boot banner, exactly as SPEC §7 words it."""
    host = f"[{address.ip}]" if ":" in address.ip else address.ip
    where = f"http://{host}:{address.port}"
    if activation.revisions_active == 0:
        return (
            f"no bundles attached to env `{env_id}` — serving probes only on {where} "
            "(attach a bundle with `gtc op bundles add`)"
        )
    return (
        f"serving {activation.revisions_active} revision(s) for env `{env_id}` across "
        f"{activation.deployments_routed} deployment(s) on {where}"
    )


def say(text: str, log: LogSink, out: TextIO) -> None:
    """One operator line: stdout (flushed) and the system log."""
    print(text, file=out, flush=True)
    log.write("info", text)


BOOTING = ""  # the pid file's url while the worker is still pulling / activating


class BootStopped(BaseException):
    """Raised when SIGTERM arrives during boot; a BaseException so no `except Exception` in a
    pull swallows it (materialize is failure-atomic, and `recover` tidies a killed one)."""

    def __init__(self, signame: str) -> None:
        super().__init__(signame)
        self.signame = signame


@contextlib.contextmanager
def _stoppable_boot() -> Iterator[None]:
    """SIGTERM during boot stops the boot (exit 0); SIGINT keeps its KeyboardInterrupt."""

    def stop(signum: int, _frame: object) -> None:
        raise BootStopped(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _record_pid(paths: EnvPaths, url: str, err: TextIO, log: LogSink) -> None:
    """Write the pid file; a read-only store can still serve, only `stop` loses track."""
    try:
        pidfile.write(paths, url)
    except OSError as exc:
        if url == BOOTING:
            return  # said once, when the listener's address is recorded
        note = f"cannot write {pidfile.path(paths)} ({exc.strerror or exc}); stop with a signal"
        print(f"warning: {note}", file=err, flush=True)
        log.write("warn", note)


def start(
    opts: StartOptions,
    *,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run the worker until SIGTERM/SIGINT; returns the exit code (0 after a clean stop)."""
    environ = os.environ if environ is None else environ
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    store = Store.at(opts.store_root)
    env_id = opts.env_id
    boot.check_present(store, env_id)
    paths = store.paths(env_id)
    binary = None
    if opts.cloudflared:
        from greentic.worker import tunnel

        binary = tunnel.resolve_binary(opts.cloudflared_binary, paths.dir, environ)
    other = pidfile.running(paths)
    if other is not None:
        doing = f"serving env `{env_id}` on {other.url}" if other.url else f"booting env `{env_id}`"
        raise Conflict(
            f"greentic-start (pid {other.pid}) is already {doing}",
            hint=f"stop it first: greentic-start stop --env {env_id}",
        )
    held = claim(paths, env_id)
    system_log = SystemLog(paths.logs / "system.log")
    redactor = Redactor()
    log = RedactingLog(system_log, redactor)
    try:
        log.write("info", f"greentic-start {os.getpid()} booting env `{env_id}` from {store.root}")
        try:
            _record_pid(paths, BOOTING, err, log)  # so `stop` reaches a worker still pulling
            with _stoppable_boot():
                booted = boot.boot(store, env_id, log)
        except BootStopped as stopped:
            say(f"received {stopped.signame} while booting; stopped before serving", log, out)
            return 0
        served = Served(booted, paths, environ, log, redactor, out, err)
        return served.run(binary)
    except GreenticError as exc:
        log.write("error", str(exc))
        raise
    finally:
        with contextlib.suppress(OSError):
            pidfile.remove(paths)  # only if it is still ours: booting, serving or failed
        system_log.close()
        if held is not None:
            os.close(held)


@dataclass
class Served:
    """The serving half of `start`: listeners, optional tunnel, background jobs, serve."""

    booted: boot.Booted
    paths: EnvPaths
    environ: Mapping[str, str]
    log: LogSink
    redact: Redactor
    out: TextIO
    err: TextIO

    def say(self, text: str) -> None:
        say(self.redact(text), self.log, self.out)

    def warn(self, text: str) -> None:
        text = self.redact(text)
        print(f"warning: {text}", file=self.err, flush=True)
        self.log.write("warn", text)

    def run(self, binary: Path | None) -> int:
        from greentic.worker import app as worker_app
        from greentic.worker import server, telegram

        env, activation, env_id = self.booted.env, self.booted.activation, self.paths.env_id
        server.hold_signals()  # from here a signal means a graceful stop once serving
        address, warnings = listeners.resolve_bind(env.host_config.listen_addr, self.environ)
        for warning in warnings:
            self.warn(warning)
        pub = None
        if binary is not None or telegram.served_bundles_linked(env, activation):
            from greentic.worker import public

            console = public.Console(say=self.say, warn=self.warn)
            pub = public.PublicSide.prepare(
                env, activation, self.paths, self.environ, console, self.redact
            )
        sock = server.bind(address, env_id=env_id)
        bound = Address(address.ip, int(sock.getsockname()[1]))
        admin_sock = server.bind_admin(bound.port) if binary else None
        runtime = worker_app.Runtime(
            env_id=env_id,
            activation=activation,
            gui_enabled=listeners.gui_enabled(env.host_config.gui_enabled, env_id),
            listen_addr=str(bound),
            log=self.log,
            telegram=pub.telegram if pub else None,
        )
        apps = [(sock, worker_app.WorkerApp(runtime, listeners.Listener(bound, binary is None)))]
        _record_pid(self.paths, bound.url, self.err, self.log)
        try:
            if not self.open_tunnel(pub, binary, bound.port, server.stop_requested):
                self.say("received a stop signal while starting the tunnel; stopped")
                return 0
            self.say(banner(activation, env_id, bound))
            self.log.write("info", f"revision ingress listening on {bound.url}")
            if admin_sock is not None:
                admin = Address(listeners.DEFAULT_IP, int(admin_sock.getsockname()[1]))
                apps.append((admin_sock, worker_app.WorkerApp(runtime, listeners.Listener(admin))))
                self.console_lines(runtime.gui_enabled, bound, admin)
            elif runtime.gui_enabled:
                self.say(f"webchat console enabled — open {bound.url}/chat")
            if pub is not None:
                if pub.tunnel is not None:
                    self.say(f"public URL: {pub.tunnel.url} (cloudflared tunnel)")
                pub.start_background(lambda text: self.log.write("info", text))

            def on_signal(name: str) -> None:
                self.say(f"received {name}; finishing in-flight requests, then exiting")

            server.serve(apps, on_signal=on_signal)
        finally:
            if pub is not None:
                pub.close()
        self.log.write("info", f"greentic-start {os.getpid()} stopped")
        return 0

    @staticmethod
    def open_tunnel(
        pub: PublicSide | None, binary: Path | None, port: int, stop: Callable[[], bool]
    ) -> bool:
        """Start the tunnel when asked for; False only when a stop signal came first."""
        if pub is None or binary is None:
            return True
        return pub.open_tunnel(binary, port, stop)

    def console_lines(self, gui: bool, bound: Address, admin: Address) -> None:
        """The admin listener's lines (reference worker §4.6, with a tunnel)."""
        self.say(f"revision ingress admin/console listening on {admin.url}")
        if gui:
            self.say(
                "webchat console enabled on the loopback admin listener — open "
                f"{admin.url}/chat (port-forward it on K8s); the public listener on "
                f"{bound.url} serves provider webhooks only while a tunnel is up"
            )


def claim(paths: EnvPaths, env_id: str) -> int | None:
    """Hold the env's worker lock for this process (its fd), or a Conflict naming the holder.

    A store where the lock cannot be created (read-only) still serves: the pid-file warning
    that follows says what is lost."""
    try:
        held = pidfile.claim(paths)
    except OSError:
        return None
    if held is not None:
        return held
    other = pidfile.read(paths)
    if other is not None and pidfile.alive(other):
        doing = f"serving env `{env_id}` on {other.url}" if other.url else f"booting env `{env_id}`"
        raise Conflict(
            f"greentic-start (pid {other.pid}) is already {doing}",
            hint=f"stop it first: greentic-start stop --env {env_id}",
        )
    raise Conflict(
        f"another greentic-start is already booting env `{env_id}` (it holds "
        f"{pidfile.lock_path(paths)})",
        hint=f"wait for its banner, then stop it first if you meant to replace it: "
        f"greentic-start stop --env {env_id}",
    )


def _refuse(
    paths: EnvPaths, record: pidfile.WorkerRecord, env_id: str, who: pidfile.Identity
) -> NoReturn:
    """A pid file naming a process nothing proves is this env's worker: never signal it."""
    where = pidfile.path(paths)
    if who is pidfile.Identity.UNKNOWN:
        raise Conflict(
            f"cannot prove that pid {record.pid} (named by {where}) is greentic-start serving "
            f"env `{env_id}`: this system has no /proc; not signalling it",
            hint=f"check the process, stop it with `kill {record.pid}`, then delete {where}",
        )
    pidfile.discard(paths, record)
    raise Conflict(
        f"refusing to signal pid {record.pid}: {where} names it, but it is not greentic-start "
        f"serving env `{env_id}` (another command line, or no recorded start time); removed "
        "that pid file",
        hint=f"if a worker for env `{env_id}` still runs, stop it with Ctrl-C or a signal",
    )


def stop(
    env_id: str,
    *,
    store_root: str | None = None,
    wait: float = STOP_WAIT_SECONDS,
    keep_webhooks: bool = False,
    environ: Mapping[str, str] | None = None,
) -> str:
    """SIGTERM the worker serving `env_id`, wait up to `wait` s (more with a tunnel), then
    delete the webhooks it registered (unless `keep_webhooks`); returns the report lines."""
    from greentic.worker import public, tunnel

    store = Store.at(store_root)
    paths = store.paths(env_id)
    tunneled = tunnel.recorded(paths) is not None
    head, stopped = _stop_worker(paths, env_id, wait + (TUNNEL_STOP_SECONDS if tunneled else 0))
    if tunneled and stopped:
        head += "; stopped tunnel(s): cloudflared."
    running = pidfile.running(paths) is not None
    extras = public.stop_extras(
        paths,
        os.environ if environ is None else environ,
        keep_webhooks=keep_webhooks,
        worker_running=running,
    )
    return "\n".join([head, *extras])


def _stop_worker(paths: EnvPaths, env_id: str, wait: float) -> tuple[str, bool]:
    """SIGTERM the env's worker once proven to be it (pidfile.identify); the report line and
    whether it is gone now."""
    record = pidfile.read(paths)
    if record is None:
        return f"no greentic-start is serving env `{env_id}` (nothing to stop)", False

    pid = record.pid

    def expected(argv: Sequence[str]) -> bool:
        return pidfile.is_worker(argv, env_id, pidfile.proc_environ(pid, pidfile.ENV_VAR))

    try:
        who = pidfile.send(record.pid, record.start_time, expected, signal.SIGTERM)
    except ProcessLookupError:
        return f"greentic-start (pid {record.pid}) for env `{env_id}` had already exited", True
    except PermissionError:
        raise IoError(
            f"not allowed to signal greentic-start (pid {record.pid}) serving env `{env_id}`",
            hint="run the stop as the user that started the worker",
        ) from None
    if who is pidfile.Identity.GONE:
        pidfile.discard(paths, record)
        return (
            f"no greentic-start is serving env `{env_id}` (removed the stale pid file of "
            f"pid {record.pid})",
            False,
        )
    if who is not pidfile.Identity.OURS:
        _refuse(paths, record, env_id, who)
    doing = f"serving env `{env_id}` on {record.url}" if record.url else f"booting env `{env_id}`"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not pidfile.alive(record):
            return f"stopped greentic-start (pid {record.pid}) {doing}", True
        time.sleep(0.02)
    return (
        f"sent SIGTERM to greentic-start (pid {record.pid}) serving env `{env_id}`; it is still "
        "finishing in-flight requests",
        False,
    )
