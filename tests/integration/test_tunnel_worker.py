"""The real `greentic-start` with `--cloudflared on`: tunnel, admin listener, webhooks, stop.

Each test authors env `local` as seeds/000 does (webchat-bot routed at `/`, a Telegram endpoint
linked to it with a minted webhook secret, the bot token in the dev-store), pulls the fixture
bundle from a loopback distributor, and runs the console script with a fake cloudflared and a
fake Bot API (tests/integration/tunnel_fakes.py). Deadlines only bound the waits.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from bundle_support import FIXTURES, Distributor, Route
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tunnel_fakes import TUNNEL_URL, FakeBotApi, alive, fake_cloudflared, gone_within

from greentic.deployer import messaging
from greentic.secrets import DevStore
from greentic.store.envstore import Store
from tests.support.stores import new_env

GREENTIC_START = str(Path(sys.executable).parent / "greentic-start")
DIGESTS: dict[str, str] = json.loads((FIXTURES / "digests.json").read_text())
TOKEN = "123456789:AAH-fake_bot_token_value_0123456789"
TOKEN_REF = "secret://local/tenant-default/_/messaging-telegram/telegram_bot_token"
BANNER = re.compile(
    r"^serving 1 revision\(s\) for env `local` across 1 deployment\(s\) on http://127\.0\.0\.1:(\d+)$"
)
DEADLINE_S = 20.0

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Authored:
    deployment_id: str
    endpoint_id: str
    webhook_secret: str


def author(store_root: Path, uri: str, *, link: bool = True, token: str | None = TOKEN) -> Authored:
    """Env `local` as a pod gets it after seeds/000's apply: bundle, endpoint, secrets."""
    store = Store(store_root)
    new_env(store, [DIGESTS["webchat-bot.gtbundle"]], env_id="local", bundle_id="webchat-bot")
    with store.mutate("local", verb="test") as env:
        env.revisions[0].bundle_source_uri = uri
        dep = env.bundles[0].deployment_id
    ep = messaging.add(
        store,
        messaging.EndpointAddPayload(
            environment_id="local", name="webchat-bot", provider_type="messaging.telegram.bot"
        ),
    )
    if link:
        messaging.link_bundle(
            store,
            messaging.LinkBundlePayload(
                environment_id="local", endpoint_id=ep["endpoint_id"], bundle_id="webchat-bot"
            ),
        )
    paths = store.paths("local")
    dev = DevStore(paths.dev_secrets)
    if token is not None:
        dev.put(TOKEN_REF, token)
    secret = dev.get(ep["webhook_secret_ref"])
    assert secret
    for leftover in (paths.runtime_config, paths.audit, paths.dir / ".lock"):
        leftover.unlink(missing_ok=True)
    return Authored(dep, ep["endpoint_id"], secret)


class Worker:
    """`greentic-start start --env local …` with stdout and stderr collected line by line."""

    def __init__(self, store_root: Path, args: list[str], env: dict[str, str]) -> None:
        environ = {
            **os.environ,
            "PORT": "0",
            "GREENTIC_GATEWAY_LISTEN_ADDR": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
            "GREENTIC_TUNNEL_READY_TIMEOUT": "0",  # no HEAD to a trycloudflare host in tests
            **env,
        }
        environ.pop("GREENTIC_ENV", None)
        self.proc = subprocess.Popen(
            [GREENTIC_START, "start", "--env", "local", "--store-root", str(store_root), *args],
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True).start()

    def _pump(self, stream: object, sink: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink.append(line.rstrip("\n"))
            if sink is self.out:
                self.lines.put(sink[-1])
        if sink is self.out:
            self.lines.put(None)

    def expect(self, pattern: str, timeout: float = DEADLINE_S) -> re.Match[str]:
        """The first (next) stdout line matching `pattern`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no stdout line matching {pattern!r}; out={self.out} err={self.err}")
            if line is None:
                pytest.fail(f"worker exited before {pattern!r}; out={self.out} err={self.err}")
            match = re.search(pattern, line)
            if match:
                return match

    def wait_err(self, needle: str, timeout: float = DEADLINE_S) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.err):
                if needle in line:
                    return line
            time.sleep(0.05)
        pytest.fail(f"no stderr line with {needle!r}; err={self.err} out={self.out}")

    def wait(self, timeout: float = DEADLINE_S) -> int:
        code = self.proc.wait(timeout=timeout)
        time.sleep(0.1)  # let the pumps drain
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def distributor() -> Iterator[Distributor]:
    with Distributor() as d:
        yield d


@pytest.fixture
def bundle_uri(distributor: Distributor) -> str:
    return distributor.add(
        "/b.gtbundle", Route(body=(FIXTURES / "webchat-bot.gtbundle").read_bytes())
    )


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.kill()


@pytest.fixture
def bot_api() -> Iterator[FakeBotApi]:
    with FakeBotApi({TOKEN}) as api:
        yield api


def tunneled(
    store_root: Path, tmp_path: Path, workers: list[Worker], env: dict[str, str]
) -> tuple[Worker, Path]:
    cf = fake_cloudflared(tmp_path)
    record = tmp_path / "cf.json"
    worker = Worker(
        store_root,
        ["--cloudflared", "on", "--cloudflared-binary", str(cf)],
        {"FAKE_CF_RECORD": str(record), **env},
    )
    workers.append(worker)
    return worker, record


def stop(store_root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GREENTIC_START, "stop", "--env", "local", "--store-root", str(store_root), *extra],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )


def update(text: str | None = "hi", chat: int = 42) -> dict[str, object]:
    msg: dict[str, object] = {"message_id": 7, "chat": {"id": chat, "type": "private"}}
    if text is not None:
        msg["text"] = text
    msg["from"] = {"id": 99, "is_bot": False, "first_name": "T"}
    return {"update_id": 1000, "message": msg}


def test_tunneled_worker_serves_webhooks_and_keeps_the_console_on_the_admin_port(
    store_root: Path, tmp_path: Path, bundle_uri: str, bot_api: FakeBotApi, workers: list[Worker]
) -> None:
    authored = author(store_root, bundle_uri)
    worker, record = tunneled(
        store_root, tmp_path, workers, {"GREENTIC_TELEGRAM_API_BASE": bot_api.base}
    )
    port = int(worker.expect(BANNER.pattern).group(1))
    admin = int(
        worker.expect(
            r"^revision ingress admin/console listening on http://127\.0\.0\.1:(\d+)$"
        ).group(1)
    )
    assert admin == port + 1
    worker.expect(
        rf"^webchat console enabled on the loopback admin listener — open "
        rf"http://127\.0\.0\.1:{admin}/chat \(port-forward it on K8s\); the public listener on "
        rf"http://127\.0\.0\.1:{port} serves provider webhooks only while a tunnel is up$"
    )
    worker.expect(rf"^public URL: {re.escape(TUNNEL_URL)} \(cloudflared tunnel\)$")
    registered = (
        f"webhook registered: provider=telegram url={TUNNEL_URL}/webhook/telegram "
        f"deployment={authored.deployment_id} secret_token=true token_source=webhook_secret_ref"
    )
    worker.expect(re.escape(registered))
    cf = json.loads(record.read_text())
    assert cf["argv"] == ["tunnel", "--url", f"http://127.0.0.1:{port}", "--no-autoupdate"]
    [call] = bot_api.calls_of("setWebhook")
    assert call.token == TOKEN
    assert call.body == {
        "url": f"{TUNNEL_URL}/webhook/telegram",
        "allowed_updates": ["message", "callback_query", "edited_message"],
        "secret_token": authored.webhook_secret,
    }

    main, side = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin}"
    assert httpx.get(f"{main}/chat").status_code == 405
    assert httpx.post(f"{main}/workers/invoke", json={"tenant": {}}).status_code == 403
    assert httpx.get(f"{side}/chat").status_code == 200
    invoke = {"tenant": {"tenant_id": "tenant-default"}, "payload": {"text": "yo"}}
    assert httpx.post(f"{side}/workers/invoke", json=invoke).status_code == 200
    assert httpx.get(f"{side}/healthz").text == "ok"

    hook = f"{main}/webhook/telegram"
    ok = {"x-telegram-bot-api-secret-token": authored.webhook_secret}
    r = httpx.post(hook, json=update("hi"), headers=ok)
    assert (r.status_code, r.text) == (200, "ok")
    [sent] = bot_api.wait_for("sendMessage")
    assert sent.token == TOKEN
    assert sent.body == {"chat_id": 42, "text": "Hello from webchat-bot! You said: hi"}
    r = httpx.post(hook, json=update("hi"), headers={"x-telegram-bot-api-secret-token": "nope"})
    assert (r.status_code, r.text) == (
        401,
        "x-telegram-bot-api-secret-token did not match any registered endpoint",
    )
    r = httpx.post(hook, json=update("hi"))
    assert (r.status_code, r.text) == (401, "missing x-telegram-bot-api-secret-token header")
    assert httpx.post(hook, json=update(None), headers=ok).status_code == 200  # no text: ack
    assert httpx.post(hook, json=[1, 2], headers=ok).status_code == 200  # unknown shape: ack
    assert httpx.post(hook, content=b"{nope", headers=ok).status_code == 400
    big = b'{"x":"' + b"a" * (1024 * 1024) + b'"}'
    assert httpx.post(hook, content=big, headers=ok).status_code == 413
    assert len(bot_api.calls_of("sendMessage")) == 1

    result = stop(store_root)
    assert result.returncode == 0, result.stderr
    first, *rest = result.stdout.splitlines()
    assert first.startswith("stopped greentic-start (pid ")
    assert first.endswith("; stopped tunnel(s): cloudflared.")
    assert rest == [
        f"deleted webhook: provider=telegram url={TUNNEL_URL}/webhook/telegram "
        f"deployment={authored.deployment_id}"
    ]
    assert [c.token for c in bot_api.calls_of("deleteWebhook")] == [TOKEN]
    assert worker.wait() == 0
    assert gone_within(cf["pid"], 5)
    env_dir = store_root / "local"
    logs = (env_dir / "logs" / "system.log").read_text()
    assert registered in logs
    cf_log = (env_dir / "logs" / "cloudflared.log").read_text()
    everything = "\n".join([*worker.out, *worker.err, result.stdout, result.stderr, logs, cf_log])
    assert TOKEN not in everything and authored.webhook_secret not in everything


def test_sigterm_stops_the_worker_and_its_tunnel(
    store_root: Path, tmp_path: Path, bundle_uri: str, bot_api: FakeBotApi, workers: list[Worker]
) -> None:
    author(store_root, bundle_uri)
    worker, record = tunneled(
        store_root, tmp_path, workers, {"GREENTIC_TELEGRAM_API_BASE": bot_api.base}
    )
    worker.expect(r"^public URL: ")
    pid = json.loads(record.read_text())["pid"]
    assert alive(pid)
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert gone_within(pid, 5)
    assert not (store_root / "local" / "state" / "pids" / "env.local" / "cloudflared.pid").exists()


def test_a_killed_worker_does_not_orphan_its_tunnel(
    store_root: Path, tmp_path: Path, bundle_uri: str, bot_api: FakeBotApi, workers: list[Worker]
) -> None:
    author(store_root, bundle_uri)
    worker, record = tunneled(
        store_root, tmp_path, workers, {"GREENTIC_TELEGRAM_API_BASE": bot_api.base}
    )
    worker.expect(r"^public URL: ")
    pid = json.loads(record.read_text())["pid"]
    worker.proc.kill()
    worker.proc.wait()
    assert gone_within(pid, 5)


@pytest.mark.parametrize(
    ("mode", "timeout", "message"),
    [
        ("exit", "10", "cloudflared exited with code 3 before printing a public URL; see "),
        ("silent", "1", "timed out waiting for cloudflared public URL in "),
    ],
)
def test_a_tunnel_without_a_url_fails_the_boot_naming_the_log(
    store_root: Path,
    tmp_path: Path,
    bundle_uri: str,
    workers: list[Worker],
    mode: str,
    timeout: str,
    message: str,
) -> None:
    author(store_root, bundle_uri)
    worker, record = tunneled(
        store_root,
        tmp_path,
        workers,
        {"FAKE_CF_MODE": mode, "GREENTIC_CLOUDFLARED_URL_TIMEOUT": timeout},
    )
    assert worker.wait() == 1
    log = store_root / "local" / "logs" / "cloudflared.log"
    assert f"{message}{log}" in "\n".join(worker.err)
    assert not [line for line in worker.out if line.startswith("serving ")]
    assert gone_within(json.loads(record.read_text())["pid"], 5)


def test_a_bad_bot_token_is_one_clear_warning(
    store_root: Path, tmp_path: Path, bundle_uri: str, workers: list[Worker]
) -> None:
    author(store_root, bundle_uri, token="987654321:BAD-token-the-bot-api-rejects")
    with FakeBotApi({TOKEN}) as api:
        worker, _ = tunneled(
            store_root, tmp_path, workers, {"GREENTIC_TELEGRAM_API_BASE": api.base}
        )
        line = worker.wait_err("webhook registration failed: provider=telegram")
        assert "Telegram rejected the bot token (401 Unauthorized)" in line
        assert len(api.calls_of("setWebhook")) == 1  # a 401 is not retried
    assert "BAD-token" not in "\n".join(worker.err + worker.out)


def test_an_unreachable_bot_api_gives_up_within_the_budget(
    store_root: Path, tmp_path: Path, bundle_uri: str, workers: list[Worker]
) -> None:
    author(store_root, bundle_uri)
    with FakeBotApi({TOKEN}) as api:
        closed = api.base
    worker, _ = tunneled(
        store_root,
        tmp_path,
        workers,
        {"GREENTIC_TELEGRAM_API_BASE": closed, "GREENTIC_WEBHOOK_REGISTER_TIMEOUT": "1.5"},
    )
    worker.expect(r"^public URL: ")
    line = worker.wait_err("webhook registration failed (gave up retrying)")
    assert f"Telegram Bot API at {closed} unreachable" in line
    assert TOKEN not in "\n".join(worker.err + worker.out)
    assert httpx.get(f"http://127.0.0.1:{worker.out and _port(worker)}/healthz").text == "ok"


def _port(worker: Worker) -> int:
    match = BANNER.match(worker.out[0])
    assert match, worker.out
    return int(match.group(1))


def test_failed_to_resolve_host_is_retried_until_registered(
    store_root: Path, tmp_path: Path, bundle_uri: str, workers: list[Worker]
) -> None:
    author(store_root, bundle_uri)
    with FakeBotApi({TOKEN}, resolve_failures=2) as api:
        worker, _ = tunneled(
            store_root, tmp_path, workers, {"GREENTIC_TELEGRAM_API_BASE": api.base}
        )
        worker.expect(r"^webhook registered: provider=telegram ")
        assert len(api.calls_of("setWebhook")) == 3


def test_without_a_public_url_registration_is_skipped(
    store_root: Path, bundle_uri: str, bot_api: FakeBotApi, workers: list[Worker]
) -> None:
    author(store_root, bundle_uri)
    worker = Worker(
        store_root,
        [],
        {"GREENTIC_TELEGRAM_API_BASE": bot_api.base, "PUBLIC_BASE_URL": "https://x.example/p"},
    )
    workers.append(worker)
    worker.expect(
        r"^skipping webhook auto-registration: no configured PUBLIC_BASE_URL \(register the "
        r"provider webhook manually\)$"
    )
    assert "ignoring PUBLIC_BASE_URL must be an origin without a path" in worker.wait_err(
        "PUBLIC_BASE_URL"
    )
    assert bot_api.calls == []


@pytest.mark.parametrize("keep", [False, True])
def test_public_base_url_registers_without_a_tunnel_and_stop_cleans_up(
    store_root: Path, bundle_uri: str, bot_api: FakeBotApi, workers: list[Worker], keep: bool
) -> None:
    authored = author(store_root, bundle_uri)
    worker = Worker(
        store_root,
        [],
        {"GREENTIC_TELEGRAM_API_BASE": bot_api.base, "PUBLIC_BASE_URL": "https://bot.example/"},
    )
    workers.append(worker)
    worker.expect(
        re.escape("webhook registered: provider=telegram url=https://bot.example/webhook/telegram")
    )
    assert bot_api.calls_of("setWebhook")[0].body["secret_token"] == authored.webhook_secret
    result = stop(store_root, *(["--keep-webhooks"] if keep else []))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "stopped tunnel(s)" not in lines[0]
    assert len(bot_api.calls_of("deleteWebhook")) == (0 if keep else 1)
    assert lines[1:] == (
        ["kept the registered webhook(s) (--keep-webhooks)"]
        if keep
        else [
            "deleted webhook: provider=telegram url=https://bot.example/webhook/telegram "
            f"deployment={authored.deployment_id}"
        ]
    )
    assert worker.wait() == 0


def test_a_missing_bot_token_is_a_warning_naming_the_secret(
    store_root: Path, bundle_uri: str, bot_api: FakeBotApi, workers: list[Worker]
) -> None:
    author(store_root, bundle_uri, token=None)
    worker = Worker(
        store_root,
        [],
        {"GREENTIC_TELEGRAM_API_BASE": bot_api.base, "PUBLIC_BASE_URL": "https://bot.example"},
    )
    workers.append(worker)
    line = worker.wait_err("webhook registration skipped")
    assert f"bot token `{TOKEN_REF}` is missing from the dev-store " in line
    assert str(store_root / "local" / ".greentic" / "dev" / ".dev.secrets.env") in line
    assert bot_api.calls == []


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make `path` unwritable even for root (immutable attribute), restored afterwards."""
    if os.geteuid() != 0:
        path.chmod(0o400)
        try:
            yield
        finally:
            path.chmod(0o600)
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False).returncode:
        pytest.skip("cannot make the dev-store read-only here (chattr +i refused)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True, check=False)


def test_a_read_only_dev_store_fails_the_boot_loudly(
    store_root: Path, bundle_uri: str, workers: list[Worker]
) -> None:
    author(store_root, bundle_uri)
    dev = store_root / "local" / ".greentic" / "dev" / ".dev.secrets.env"
    with read_only(dev):
        worker = Worker(store_root, [], {})
        workers.append(worker)
        assert worker.wait() == 1
    err = "\n".join(worker.err)
    assert f"io error on {dev}" in err
    assert "must be a writable file" in err
    assert not [line for line in worker.out if line.startswith("serving ")]


TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    bot=st.integers(min_value=10**6, max_value=10**10),
    tail=st.text(TOKEN_CHARS, min_size=20, max_size=40),
    secret=st.text(TOKEN_CHARS, min_size=16, max_size=64),
)
def test_property_tokens_and_secrets_never_reach_any_output(
    bot: int, tail: str, secret: str
) -> None:
    token = f"{bot}:{tail}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        Distributor() as distributor,
        FakeBotApi({token}) as api,
    ):
        root, work = Path(tmp) / "store", Path(tmp)
        body = (FIXTURES / "webchat-bot.gtbundle").read_bytes()
        authored = author(root, distributor.add("/b.gtbundle", Route(body=body)), token=token)
        dev = DevStore(root / "local" / ".greentic" / "dev" / ".dev.secrets.env")
        ref = f"secret://local/default/_/messaging-{authored.endpoint_id.lower()}/webhook_secret"
        dev.put(ref, secret)
        started: list[Worker] = []
        try:
            worker, _ = tunneled(root, work, started, {"GREENTIC_TELEGRAM_API_BASE": api.base})
            port = int(worker.expect(BANNER.pattern).group(1))
            worker.expect(r"^webhook registered: ")
            main = f"http://127.0.0.1:{port}"
            good = {"x-telegram-bot-api-secret-token": secret}
            assert httpx.post(f"{main}/webhook/telegram", json=update(), headers=good).is_success
            api.wait_for("sendMessage")
            bad = {"x-telegram-bot-api-secret-token": secret[:-1]}
            assert (
                httpx.post(f"{main}/webhook/telegram", json=update(), headers=bad).status_code
                == 401
            )
            status = httpx.get(f"{main}/status").text
            result = stop(root)
            assert worker.wait() == 0
        finally:
            for w in started:
                w.kill()
        logs = root / "local" / "logs"
        seen = "\n".join(
            [*worker.out, *worker.err, status, result.stdout, result.stderr]
            + [(logs / name).read_text() for name in ("system.log", "cloudflared.log")]
        )
        assert token not in seen and tail not in seen and secret not in seen
