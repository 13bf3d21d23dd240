"""The tunnel scenario's failure modes and its `net` variant (the happy path runs in
test_scenarios.py with every other scenario).

Each case is a small scenario built from scenarios/tunnel.py's own `prepare` and `boot`
steps and run through `harness.runner`, so it gets the same artifacts and cleanup: a Bot API
that cannot resolve the fresh tunnel host at first, a cloudflared that dies or never prints
a URL, and a leak scan that must catch a planted token. The `net` case uses a real cloudflared
and a real bot token when GTC_REAL_CLOUDFLARED and GTC_REAL_TELEGRAM_TOKEN are set.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from harness import reap, runner, waits
from harness.context import ScenarioContext, ScenarioResult
from harness.fakes import edges
from harness.fakes import telegram as fake_telegram
from scenarios import tunnel

pytestmark = pytest.mark.slow
REAL_CLOUDFLARED_ENV = "GTC_REAL_CLOUDFLARED"
REAL_TOKEN_ENV = "GTC_REAL_TELEGRAM_TOKEN"


def execute(name: str, body: Callable[[ScenarioContext], None], tmp_path: Path) -> ScenarioResult:
    """Run `body(ctx)` as scenario `tunnel-<name>` on the host track."""
    module = types.ModuleType(f"scenarios.tunnel_{name.replace('-', '_')}")
    module.NEEDS = tunnel.NEEDS  # type: ignore[attr-defined]

    def run(ctx: ScenarioContext) -> ScenarioResult:
        body(ctx)
        return ctx.result()

    module.run = run  # type: ignore[attr-defined]
    return runner.execute(module, track="host", artifacts_root=tmp_path / "artifacts")


def stderr_of_boot(result: ScenarioResult) -> str:
    return (result.artifacts / "worker-boot1.stderr.log").read_text()


def tunnels_of(run_id: str) -> list[int]:
    """Live fake cloudflared processes this run started."""
    found = []
    for pid in reap.pids_of_run(run_id):
        try:
            if b"/bin/cloudflared" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue  # gone meanwhile
    return found


def test_set_webhook_is_retried_until_the_tunnel_host_resolves(tmp_path: Path) -> None:
    def body(ctx: ScenarioContext) -> None:
        setup = tunnel.prepare(ctx)
        assert setup.api is not None
        setup.api.fail_set_webhook(2)  # a fresh *.trycloudflare.com does not resolve at first
        worker = tunnel.boot(ctx, setup)
        url = tunnel.match_line(ctx, worker, tunnel.PUBLIC_URL, "public URL")
        tunnel.match_line(ctx, worker, tunnel.REGISTERED, "registered after retries")
        calls = setup.api.calls("setWebhook")
        assert [(c.status, c.bot) for c in calls] == [(400, "demo-bot")] * 2 + [(200, "demo-bot")]
        assert calls[0].description == fake_telegram.RESOLVE_FAILURE
        assert {c.params["url"] for c in calls} == {url + tunnel.WEBHOOK_PATH}
        assert setup.api.webhook(tunnel.BOT) is not None

    result = execute("dns-retry", body, tmp_path)
    assert result.ok, result.summary()


def test_a_cloudflared_that_exits_fails_the_boot_naming_its_log(tmp_path: Path) -> None:
    def body(ctx: ScenarioContext) -> None:
        setup = tunnel.prepare(ctx)
        worker = tunnel.boot(ctx, setup, env={edges.MODE_ENV: "exit"})
        assert worker.wait_exited(tunnel.DEADLINE_S) != 0
        assert setup.api is not None and setup.api.calls() == []
        assert "public URL" not in worker.stdout()

    result = execute("cf-exit", body, tmp_path)
    assert result.ok, result.summary()
    err = stderr_of_boot(result)
    assert "cloudflared exited with code 1 before printing a public URL" in err
    assert "cloudflared.log" in err
    assert tunnels_of(result.run_id) == []


def test_a_cloudflared_without_a_url_times_out_and_is_stopped(tmp_path: Path) -> None:
    def body(ctx: ScenarioContext) -> None:
        setup = tunnel.prepare(ctx)
        env = {edges.MODE_ENV: "no-url", "GREENTIC_CLOUDFLARED_URL_TIMEOUT": "1"}
        worker = tunnel.boot(ctx, setup, env=env)
        assert worker.wait_exited(tunnel.DEADLINE_S) != 0
        assert tunnels_of(ctx.run_id) == []  # the worker stopped the silent tunnel

    result = execute("cf-no-url", body, tmp_path)
    assert result.ok, result.summary()
    assert "timed out waiting for cloudflared public URL" in stderr_of_boot(result)


def test_the_leak_scan_finds_a_planted_token(tmp_path: Path) -> None:
    token = tunnel.new_bot_token()

    def body(ctx: ScenarioContext) -> None:
        ctx.artifacts.write_text("worker-boot1.stdout.log", f"calling /bot{token}/sendMessage\n")
        tunnel.check_no_secret_leaked(ctx, {"bot token": token})

    result = execute("leak", body, tmp_path)
    assert not result.ok
    [failed] = [c for c in result.checks if not c.ok]
    assert "worker-boot1.stdout.log" in failed.detail and token not in failed.detail


@pytest.mark.net
def test_real_cloudflared_and_telegram(tmp_path: Path) -> None:
    """A real quick tunnel and the real Bot API: the webhook Telegram reports is ours, an
    Update POSTed to the public URL with the secret is accepted, stop deletes the webhook."""
    binary, token = (
        os.environ.get("GTC_REAL_CLOUDFLARED"),
        os.environ.get("GTC_REAL_TELEGRAM_TOKEN"),
    )
    if not binary or not token:
        pytest.skip(
            "set GTC_REAL_CLOUDFLARED and GTC_REAL_TELEGRAM_TOKEN to run against the internet"
        )

    def webhook_url() -> str:
        info = httpx.get(f"{tunnel.REAL_API_BASE}/bot{token}/getWebhookInfo", timeout=10).json()
        return str(info["result"]["url"])

    def body(ctx: ScenarioContext) -> None:
        setup = tunnel.prepare(ctx, token=token, cloudflared=Path(binary))
        worker = tunnel.boot(ctx, setup)
        url = tunnel.match_line(ctx, worker, tunnel.PUBLIC_URL, "public URL")
        tunnel.match_line(ctx, worker, tunnel.REGISTERED, "webhook registered")
        assert webhook_url() == url + tunnel.WEBHOOK_PATH
        headers = {fake_telegram.SECRET_HEADER: setup.webhook_secret}
        accepted = waits.until_http(
            url + tunnel.WEBHOOK_PATH,
            method="POST",
            json=tunnel.update(1),
            headers=headers,
            timing=waits.Timing(timeout=60, interval=2),
        ).status(200)
        assert accepted.status_code == 200
        assert tunnel.stop_worker(ctx, worker) == 0
        assert webhook_url() == ""
        tunnel.check_no_secret_leaked(ctx, {"bot token": token})

    result = execute("net", body, tmp_path)
    assert result.ok, result.summary()
