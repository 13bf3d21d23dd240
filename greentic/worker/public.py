"""The worker's public side: tunnel, webhook registration, Telegram replies, stop hygiene.

`process` calls these around its serve loop: `open_tunnel` after the listener is bound (a
failure kills the child and fails the boot naming the log), `start_background` once the
banner is out (reachability probe and setWebhook never delay serving), `stop_extras` from
`greentic-start stop` (report the tunnel, deleteWebhook what this env's worker registered).
`PublicSide` bundles them for a worker that tunnels or serves Telegram.
Every line goes through the Redactor first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from greentic.errors import IoError
from greentic.secrets import reader
from greentic.spec.environment import Environment
from greentic.store.layout import EnvPaths
from greentic.worker import botapi, telegram, tunnel
from greentic.worker.activation import Activation
from greentic.worker.redact import Redactor
from greentic.worker.telegram import TelegramSide

Line = Callable[[str], None]


@dataclass(frozen=True)
class Console:
    """Where operator lines go: `say` (stdout + log) and `warn` (stderr + log), redacted."""

    say: Line
    warn: Line


serves_telegram = telegram.served_bundles_linked


def secrets_of(paths: EnvPaths, environ: Mapping[str, str], learn: Line) -> reader.SecretsReader:
    return reader.SecretsReader(reader.locate(paths.dir, environ), on_value=learn)


def telegram_side(
    env: Environment,
    secrets: reader.SecretsReader,
    environ: Mapping[str, str],
    console: Console,
    redact: Redactor,
) -> tuple[TelegramSide, botapi.Sender]:
    """The app's Telegram hooks: a per-request dev-store read and a background sender."""
    sender = botapi.Sender(
        botapi.Secrets(get=secrets.get, path=secrets.path),
        botapi.api_base(environ),
        redact,
        console.warn,
    )
    return TelegramSide(env=env, secret=secrets.get, send=sender.send), sender


def open_tunnel(
    binary: Path,
    port: int,
    paths: EnvPaths,
    environ: Mapping[str, str],
    *,
    should_stop: Callable[[], bool],
) -> tunnel.Tunnel | None:
    """Spawn cloudflared and wait for its URL; None when a stop signal came first."""
    timeout = tunnel.seconds(environ, tunnel.URL_TIMEOUT_ENV, tunnel.DEFAULT_URL_TIMEOUT)
    child = tunnel.spawn(binary, port, paths)
    try:
        url = tunnel.wait_for_url(child, timeout=timeout, should_stop=should_stop)
    except tunnel.TunnelFailed as exc:
        child.stop()
        raise IoError(
            str(exc),
            hint=f"read {child.log}; check --cloudflared-binary / ${tunnel.BINARY_ENV} and that "
            f"this host reaches Cloudflare (raise ${tunnel.URL_TIMEOUT_ENV} for a slow network)",
        ) from None
    except BaseException:
        child.stop()
        raise
    if url is None:
        child.stop()
        return None
    tunnel.save_url(paths, url)
    return child


def _probe(url: str, timeout: float, console: Console, log_info: Line) -> None:
    import httpx

    def head(target: str) -> object:
        return httpx.head(target, timeout=5.0)

    error = tunnel.reachable(url, timeout=timeout, head=head)
    if error is None:
        log_info(f"cloudflared tunnel verified reachable at {url}")
    else:
        console.warn(
            f"cloudflared tunnel not yet reachable, continuing anyway: tunnel at {url} not "
            f"reachable after {timeout:g}s: {error}"
        )


def start_background(
    *,
    env: Environment,
    activation: Activation,
    paths: EnvPaths,
    environ: Mapping[str, str],
    tunnel_url: str | None,
    secrets: reader.SecretsReader,
    console: Console,
    log_info: Line,
) -> None:
    """Probe the tunnel and register webhooks on daemon threads (serving is not delayed)."""
    if tunnel_url:
        ready = tunnel.seconds(environ, tunnel.READY_TIMEOUT_ENV, tunnel.DEFAULT_READY_TIMEOUT)
        if ready > 0:
            threading.Thread(
                target=_probe, args=(tunnel_url, ready, console, log_info), daemon=True
            ).start()
    if activation.revisions_active == 0:
        return
    if not serves_telegram(env, activation):
        log_info(telegram.NO_ROUTES)
        return
    base, warnings = telegram.public_base_url(tunnel_url, env.host_config.public_base_url, environ)
    for warning in warnings:
        console.warn(warning)
    if base is None:
        console.say(telegram.SKIP_NO_URL)
        return
    plans, notes = telegram.plans(env, activation, base)
    for note in notes:
        console.warn(note)
    if not plans:
        log_info(telegram.NO_ROUTES)
        return
    budget = tunnel.seconds(environ, botapi.REGISTER_BUDGET_ENV, botapi.DEFAULT_REGISTER_BUDGET)
    threading.Thread(
        target=botapi.register_all,
        args=(plans, botapi.Secrets(get=secrets.get, path=secrets.path), botapi.api_base(environ)),
        kwargs={
            "budget": budget,
            "runtime_dir": tunnel.runtime_dir(paths),
            "say": console.say,
            "warn": console.warn,
        },
        daemon=True,
        name="webhook-register",
    ).start()


@dataclass
class PublicSide:
    """Everything a tunneled or Telegram-serving worker adds, built only when needed so a plain
    worker never imports it. Example: `side = PublicSide.prepare(...); side.close()`."""

    env: Environment
    activation: Activation
    paths: EnvPaths
    environ: Mapping[str, str]
    console: Console
    secrets: reader.SecretsReader
    telegram: TelegramSide
    sender: botapi.Sender
    tunnel: tunnel.Tunnel | None = None

    @classmethod
    def prepare(
        cls,
        env: Environment,
        activation: Activation,
        paths: EnvPaths,
        environ: Mapping[str, str],
        console: Console,
        redactor: Redactor,
    ) -> PublicSide:
        """Open the dev-store (a read-only one fails the boot when Telegram is served)."""
        secrets = secrets_of(paths, environ, redactor.learn)
        if serves_telegram(env, activation):
            secrets.check()
        side, sender = telegram_side(env, secrets, environ, console, redactor)
        return cls(env, activation, paths, environ, console, secrets, side, sender)

    def open_tunnel(self, binary: Path, port: int, should_stop: Callable[[], bool]) -> bool:
        """Start the tunnel; False when a stop signal came first."""
        self.tunnel = open_tunnel(binary, port, self.paths, self.environ, should_stop=should_stop)
        return self.tunnel is not None

    def start_background(self, log_info: Line) -> None:
        start_background(
            env=self.env,
            activation=self.activation,
            paths=self.paths,
            environ=self.environ,
            tunnel_url=self.tunnel.url if self.tunnel else None,
            secrets=self.secrets,
            console=self.console,
            log_info=log_info,
        )

    def close(self) -> None:
        """Stop the tunnel (if any) and the reply sender."""
        if self.tunnel is not None:
            self.tunnel.stop()
        self.sender.close()


def stop_extras(
    paths: EnvPaths, environ: Mapping[str, str], *, keep_webhooks: bool, worker_running: bool
) -> list[str]:
    """After the worker stopped: end a tunnel it left behind (only the one its pid file names,
    same start time; a worker still finishing stops its own) and delete its webhooks."""
    lines: list[str] = []
    left = None if worker_running else tunnel.recorded(paths)
    if left is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(left.pid, signal.SIGTERM)  # recorded by our worker, same start time
        tunnel.pid_path(paths).unlink(missing_ok=True)
        lines.append(f"stopped the cloudflared (pid {left.pid}) this env's worker left running")
    records = botapi.records_path(tunnel.runtime_dir(paths))
    if keep_webhooks:
        if records.exists():
            lines.append("kept the registered webhook(s) (--keep-webhooks)")
            records.unlink(missing_ok=True)
        return lines
    if not records.exists():
        return lines
    redactor = Redactor()
    secrets = secrets_of(paths, environ, redactor.learn)
    found = botapi.delete_recorded(
        tunnel.runtime_dir(paths), botapi.Secrets(get=secrets.get, path=secrets.path)
    )
    return lines + [redactor(line) for line in found]
