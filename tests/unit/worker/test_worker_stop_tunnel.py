"""`greentic-start stop` and a tunnel left behind: ours (same pid AND start time) is stopped,
anything else named by a stale pid file is never touched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from greentic.store import atomic
from greentic.store.envstore import Store
from greentic.worker import pidfile, process, tunnel

from .envs import EnvBuilder, save_cold


def sleeper() -> subprocess.Popen[bytes]:
    """A stand-in with cloudflared's command line as `tunnel.spawn` runs it."""
    args = ["tunnel", "--url", "http://127.0.0.1:1", "--no-autoupdate"]
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", *args])


def record(store_root: Path, proc: subprocess.Popen[bytes], start_time: str | None) -> Path:
    store = Store(store_root)
    save_cold(store, EnvBuilder().build())
    path = tunnel.pid_path(store.paths("local"))
    atomic.write_json(path, {"pid": proc.pid, "start_time": start_time, "worker": 1})
    return path


def test_stop_ends_a_tunnel_its_worker_left_running(store_root: Path) -> None:
    proc = sleeper()
    try:
        pid_file = record(store_root, proc, pidfile.proc_start_time(proc.pid))
        report = process.stop("local", store_root=str(store_root), environ={})
        assert proc.wait(timeout=5) == -15
    finally:
        proc.kill()
    assert report.splitlines() == [
        "no greentic-start is serving env `local` (nothing to stop)",
        f"stopped the cloudflared (pid {proc.pid}) this env's worker left running",
    ]
    assert not pid_file.exists()


def test_stop_never_touches_a_process_it_did_not_start(store_root: Path) -> None:
    proc = sleeper()
    try:
        record(store_root, proc, "1")  # same pid, another start time: a recycled pid
        report = process.stop("local", store_root=str(store_root), environ={})
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
    assert report == "no greentic-start is serving env `local` (nothing to stop)"


def test_a_webhook_whose_token_is_gone_is_one_warning_and_the_record_is_cleared(
    store_root: Path,
) -> None:
    store = Store(store_root)
    save_cold(store, EnvBuilder().build())
    records = tunnel.runtime_dir(store.paths("local")) / "webhooks.json"
    ref = "secret://local/tenant-default/_/messaging-telegram/telegram_bot_token"
    entry = {
        "provider": "telegram",
        "url": "https://x.example/webhook/telegram",
        "deployment_id": "D1",
        "endpoint_id": "E1",
        "api_base": "http://127.0.0.1:9",
        "bot_token_ref": ref,
    }
    atomic.write_json(records, [entry])
    lines = process.stop("local", store_root=str(store_root), environ={}).splitlines()
    assert lines[1].startswith(
        "warning: could not delete webhook: provider=telegram url=https://x.example/webhook/"
        f"telegram deployment=D1: bot token `{ref}` is missing from the dev-store "
    )
    assert not records.exists()
    assert process.stop("local", store_root=str(store_root), environ={}).count("\n") == 0
