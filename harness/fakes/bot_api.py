"""Drive the fake Telegram Bot API (harness.fakes.telegram) as a managed child process.

`FakeBotApi` starts the fake on a free loopback port (it prints its address), hands out
`api_base` for `GREENTIC_TELEGRAM_API_BASE`, and reads back what the worker did: `calls(method)`
with the LABEL of the bot token each call used, the registered webhook, deliveries. It can
fail the next `setWebhook` calls and deliver an Update to the registered webhook through the
fake cloudflared edge. Tokens travel by environment, never argv or logs. Used by
scenarios/tunnel.py and the tunnel tests.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harness import waits
from harness.closing import StopOnExit
from harness.errors import HarnessError
from harness.fakes import telegram as fake
from harness.process import RUN_ID_ENV, ManagedProcess

START_DEADLINE_S = 10.0
HTTP_TIMEOUT_S = 15.0  # a delivery waits for the worker's answer (the fake's own cap is 10 s)
SECRET_HEADER = fake.SECRET_HEADER
REDACTED = "***"


class FakeBotApiError(HarnessError):
    """Raised when the fake Bot API cannot start or its control plane refuses a request."""


class _Registered:
    """The sentinel for `deliver(secret=REGISTERED)`: send the secret the webhook was set with."""

    def __repr__(self) -> str:
        return "REGISTERED"


REGISTERED = _Registered()


@dataclass(frozen=True)
class ApiCall:
    """One Bot API call the fake answered: `bot` is the token's label (or `unknown:<sha>`)."""

    seq: int
    method: str
    bot: str
    params: dict[str, Any]
    status: int
    ok: bool
    description: str | None

    def redacted(self) -> dict[str, Any]:
        """For artifacts: the webhook secret masked."""
        params = {k: REDACTED if k == "secret_token" else v for k, v in self.params.items()}
        return {**self.__dict__, "params": params}


@dataclass(frozen=True)
class Delivery:
    """What the webhook answered to one delivered Update (`status` None: not reached)."""

    url: str
    status: int | None
    body: str
    error: str | None


class BotApiControl:
    """The fake's control plane over HTTP: what the worker did, and Telegram's side of it
    (deliveries, failures, routes). `FakeBotApi` runs the fake as a local process; a pod
    track runs it as a pod (harness.docker.fakenet) and reaches `control_base` through a
    published port."""

    @property
    def control_base(self) -> str:
        """`http://127.0.0.1:<port>` where this process reaches the fake's `/_fake/…`."""
        raise NotImplementedError

    def logs(self) -> str:
        """The fake's own output, for diagnostics."""
        raise NotImplementedError

    def _control(self, method: str, action: str, body: dict[str, Any] | None = None) -> Any:
        try:
            with httpx.Client(timeout=HTTP_TIMEOUT_S, trust_env=False) as client:
                response = client.request(method, f"{self.control_base}/_fake/{action}", json=body)
        except httpx.HTTPError as exc:
            raise FakeBotApiError(
                f"the fake Telegram Bot API did not answer /_fake/{action}: {exc}"
                f"\n  logs: {waits.tail(self.logs())}"
            ) from None
        if response.status_code != 200:
            raise FakeBotApiError(
                f"the fake Telegram Bot API refused /_fake/{action}: HTTP "
                f"{response.status_code} {response.text[:300]}"
            )
        return response.json()

    def state(self) -> dict[str, Any]:
        """Everything recorded: calls, unexpected requests, deliveries, webhooks."""
        doc: dict[str, Any] = self._control("GET", "state")
        return doc

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """The Bot API calls answered so far (of `method` only, case-insensitive), in order."""
        out = [
            ApiCall(
                seq=c["seq"],
                method=c["method"],
                bot=c["bot"],
                params=c["params"],
                status=c["status"],
                ok=c["ok"],
                description=c.get("description"),
            )
            for c in self.state()["calls"]
        ]
        return [c for c in out if method is None or c.method.lower() == method.lower()]

    def wait_calls(self, method: str, count: int = 1, *, timeout: float = 10.0) -> list[ApiCall]:
        """Until at least `count` calls of `method` were made; those calls."""

        def attempt() -> list[ApiCall] | None:
            got = self.calls(method)
            return got if len(got) >= count else None

        return waits.Poll(
            what=f"{count} `{method}` call(s) at the fake Telegram Bot API",
            attempt=attempt,
            timing=waits.Timing(timeout=timeout, interval=0.1),
            hint="did the worker get GREENTIC_TELEGRAM_API_BASE and a Telegram endpoint?",
            status=lambda: f"calls so far: {[c.method for c in self.calls()] or 'none'}",
        ).run()

    def webhook(self, bot: str) -> dict[str, Any] | None:
        """The webhook `bot` has registered now (url, secret_token, allowed_updates)."""
        hook: dict[str, Any] | None = self.state()["webhooks"].get(bot)
        return hook

    def fail_set_webhook(self, count: int = 0, *, seconds: float = 0.0) -> None:
        """Answer the next `count` setWebhook calls (and all within `seconds`) with Telegram's
        "Failed to resolve host" 400, as for a tunnel host DNS does not know yet."""
        self._control("POST", "fail-set-webhook", {"count": count, "seconds": seconds})

    def deliver(
        self, update: dict[str, Any], *, bot: str | None = None, secret: Any = REGISTERED
    ) -> Delivery:
        """POST `update` to the bot's webhook through the fake edge, as Telegram does.

        `secret`: REGISTERED (the webhook's own secret_token), None (no header) or a string."""
        body: dict[str, Any] = {"update": update}
        if bot is not None:
            body["bot"] = bot
        if secret is not REGISTERED:
            body["secret"] = secret
        doc = self._control("POST", "deliver", body)
        return Delivery(url=doc["url"], status=doc["status"], body=doc["body"], error=doc["error"])

    def reset(self) -> None:
        self._control("POST", "reset")

    def check_assertions(self) -> None:
        """Raise when a request hit a path the fake does not serve (pytest-httpserver style)."""
        unexpected = self.state()["unexpected"]
        if unexpected:
            raise FakeBotApiError(
                f"the fake Telegram Bot API got {len(unexpected)} request(s) it does not serve: "
                f"{unexpected[:5]} (it serves /bot<token>/<method> for "
                f"{', '.join(fake.METHODS)})"
            )

    def route(self, host: str, address: str, port: int) -> None:
        """Deliveries to `https://<host>` go to `address:port` (an edge in another container)."""
        self._control("POST", "route", {"host": host, "address": address, "port": port})


class FakeBotApi(BotApiControl, StopOnExit):
    """The fake Telegram Bot API as a process.

    Example:
        with FakeBotApi(tokens={"bot": token}, logs_dir=d, edge_dir=edges.directory) as api:
            env = {"GREENTIC_TELEGRAM_API_BASE": api.api_base}
            ...
            [hook] = api.wait_calls("setWebhook")
            delivery = api.deliver({"update_id": 1, "message": {...}})
    """

    def __init__(
        self,
        *,
        tokens: Mapping[str, str],
        logs_dir: Path,
        edge_dir: Path | None = None,
        run_id: str | None = None,
        name: str = "fake-telegram",
        python: str = sys.executable,
    ) -> None:
        env = {fake.TOKENS_ENV: json.dumps(dict(tokens))}
        if edge_dir is not None:
            env[fake.EDGE_DIR_ENV] = str(edge_dir)
        if run_id is not None:
            env[RUN_ID_ENV] = run_id
        self.process = ManagedProcess(
            [python, str(Path(fake.__file__))], env=env, logs_dir=logs_dir, name=name
        )
        self._base: str | None = None

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> FakeBotApi:
        self.process.start()
        try:
            match = self.process.wait_for(
                fake.READY_LINE.format(host=r"([\d.]+)", port=r"(\d+)"),
                START_DEADLINE_S,
                hint="the fake Telegram Bot API did not start; read its stderr above",
            )
        except HarnessError as exc:
            self.process.stop()
            raise FakeBotApiError(f"cannot start the fake Telegram Bot API: {exc}") from None
        self._base = f"http://{match.group(1)}:{match.group(2)}"
        return self

    def stop(self) -> int | None:
        return self.process.stop()

    @property
    def api_base(self) -> str:
        """`http://127.0.0.1:<port>`: the value for `GREENTIC_TELEGRAM_API_BASE`."""
        if self._base is None:
            raise RuntimeError("the fake Bot API is not running (use it as a context manager)")
        return self._base

    @property
    def control_base(self) -> str:
        return self.api_base

    def logs(self) -> str:
        return self.process.logs()
