"""Waits as objects with diagnostic failures: `until_http`, `until_log`, `until_exit`.

Each wait polls with one deadline, retries only the transient exceptions it names, fails
fast when the watched process has exited, and on timeout raises with the last status, the
last 200 characters of the logs and a `Hint:`. Clock and sleep are injectable so unit tests
take zero wall time. Called by track backends and scenario checks.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Protocol, TypeVar

import httpx
import tenacity

from harness.errors import HarnessError

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], None]

LOG_TAIL = 200


class Watched(Protocol):
    """Something that runs and logs: a worker process, a registry, a pod."""

    def exit_code(self) -> int | None:
        """The exit code once it has exited, else None."""
        ...

    def logs(self) -> str:
        """Everything it has logged so far (stdout then stderr)."""
        ...


class WaitTimeout(HarnessError):
    """Raised when a wait's condition did not hold before its deadline."""


class ProcessExited(HarnessError):
    """Raised when the watched process exited before the wait's condition held."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


def tail(text: str, limit: int = LOG_TAIL) -> str:
    """The last `limit` characters of `text`, marked when cut."""
    text = text.rstrip()
    return text if len(text) <= limit else "…" + text[-limit:]


@dataclass(frozen=True)
class Timing:
    """One deadline per phase: timeout, poll interval, and the clock/sleep to use."""

    timeout: float = 10.0
    interval: float = 0.05
    clock: Clock = time.monotonic
    sleep: Sleep = time.sleep


@dataclass
class Poll(Generic[T]):
    """The engine under every wait: retry `attempt` until it returns non-None.

    `attempt` returns None while the condition does not hold yet and may raise one of
    `transient`; any other exception ends the wait at once. `watch` lends its logs to the
    failure message and, unless `fail_on_exit` is off, ends the wait when it exits.
    `status()` describes the last observation for the timeout message.
    """

    what: str
    attempt: Callable[[], T | None]
    timing: Timing = field(default_factory=Timing)
    transient: tuple[type[BaseException], ...] = ()
    watch: Watched | None = None
    fail_on_exit: bool = True
    hint: str = ""
    status: Callable[[], str] = lambda: "condition not met"

    def run(self) -> T:
        clock, start = self.timing.clock, self.timing.clock()
        last_error: list[BaseException] = []

        def once() -> T | None:
            try:
                value = self.attempt()
            except self.transient as exc:
                last_error[:] = [exc]
                value = None
            if value is None:
                self._fail_if_exited()
            return value

        retrying = tenacity.Retrying(
            stop=lambda _state: clock() - start >= self.timing.timeout,
            wait=tenacity.wait_fixed(self.timing.interval),
            retry=tenacity.retry_if_result(lambda v: v is None),
            sleep=self.timing.sleep,
            retry_error_callback=lambda _state: None,
        )
        value = retrying(once)
        if value is None:
            raise WaitTimeout(self._timeout_message(last_error[0] if last_error else None))
        return value

    def _fail_if_exited(self) -> None:
        if self.watch is None or not self.fail_on_exit:
            return
        code = self.watch.exit_code()
        if code is not None:
            raise ProcessExited(
                f"{self.what}: the process exited with code {code} first"
                f"{self._logs_line()}{self._hint_line()}",
                code=code,
            )

    def _timeout_message(self, error: BaseException | None) -> str:
        last = self.status()
        if error is not None:
            last = f"{last}; last error: {type(error).__name__}: {error}"
        return (
            f"timed out after {self.timing.timeout:g}s waiting for {self.what} (last: {last})"
            f"{self._logs_line()}{self._hint_line()}"
        )

    def _logs_line(self) -> str:
        if self.watch is None:
            return ""
        logs = tail(self.watch.logs())
        return f"\n  logs: {logs}" if logs else "\n  logs: (empty)"

    def _hint_line(self) -> str:
        return f"\nHint: {self.hint}" if self.hint else ""


@dataclass
class HttpWait:
    """`until_http(url).status(200)`: poll a URL until it answers the expected status."""

    url: str
    method: str = "GET"
    json: Any = None
    headers: Mapping[str, str] | None = None
    timing: Timing = field(default_factory=Timing)
    watch: Watched | None = None
    hint: str = "check the server's logs above; is it listening on that address?"
    transport: httpx.BaseTransport | None = None
    _last: str = "no answer yet"

    def within(self, timeout: float) -> HttpWait:
        """The same wait with another deadline."""
        return replace(self, timing=replace(self.timing, timeout=timeout))

    def status(self, code: int) -> httpx.Response:
        """Poll until the URL answers `code`; returns that response."""

        def attempt() -> httpx.Response | None:
            with httpx.Client(transport=self.transport, timeout=2.0, trust_env=False) as c:
                response = c.request(self.method, self.url, json=self.json, headers=self.headers)
            self._last = f"HTTP {response.status_code} {tail(response.text, 80)!r}"
            return response if response.status_code == code else None

        return Poll(
            what=f"{self.method} {self.url} to answer {code}",
            attempt=attempt,
            timing=self.timing,
            transient=(httpx.TransportError,),
            watch=self.watch,
            hint=self.hint,
            status=lambda: self._last,
        ).run()


def until_http(
    url: str,
    *,
    method: str = "GET",
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    timing: Timing | None = None,
    watch: Watched | None = None,
    hint: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> HttpWait:
    """A wait on an HTTP endpoint; finish it with `.status(code)`."""
    wait = HttpWait(
        url=url,
        method=method,
        json=json,
        headers=headers,
        timing=timing or Timing(),
        watch=watch,
        transport=transport,
    )
    return wait if hint is None else replace(wait, hint=hint)


@dataclass
class LogWait:
    """`until_log(proc, regex).wait()`: poll a process's output until a regex matches."""

    watch: Watched
    pattern: re.Pattern[str]
    text: Callable[[], str]
    timing: Timing = field(default_factory=Timing)
    hint: str = "the process is alive but never logged that line; read its logs above"

    def within(self, timeout: float) -> LogWait:
        return replace(self, timing=replace(self.timing, timeout=timeout))

    def wait(self) -> re.Match[str]:
        """The first match, once it appears."""
        return Poll(
            what=f"a log line matching /{self.pattern.pattern}/",
            attempt=lambda: self.pattern.search(self.text()),
            timing=self.timing,
            watch=self.watch,
            hint=self.hint,
            status=lambda: "no matching line yet",
        ).run()


def until_log(
    watch: Watched,
    regex: str | re.Pattern[str],
    *,
    text: Callable[[], str] | None = None,
    timing: Timing | None = None,
    hint: str | None = None,
) -> LogWait:
    """A wait on a process's output (`text`, default all of its logs); finish with `.wait()`."""
    pattern = re.compile(regex) if isinstance(regex, str) else regex
    wait = LogWait(watch=watch, pattern=pattern, text=text or watch.logs, timing=timing or Timing())
    return wait if hint is None else replace(wait, hint=hint)


@dataclass
class ExitWait:
    """`until_exit(proc).wait()`: poll until the process exits; returns its exit code.

    `each` runs on every poll while the process is alive (e.g. probe /healthz to prove it
    never served); it may raise to end the wait early.
    """

    watch: Watched
    timing: Timing = field(default_factory=Timing)
    each: Callable[[], None] | None = None
    hint: str = "the process kept running; it was expected to exit on its own"

    def within(self, timeout: float) -> ExitWait:
        return replace(self, timing=replace(self.timing, timeout=timeout))

    def wait(self) -> int:
        def attempt() -> int | None:
            code = self.watch.exit_code()
            if code is None and self.each is not None:
                self.each()
            return code

        return Poll(
            what="the process to exit",
            attempt=attempt,
            timing=self.timing,
            watch=self.watch,
            fail_on_exit=False,
            hint=self.hint,
            status=lambda: "still running",
        ).run()


def until_exit(
    watch: Watched,
    *,
    timing: Timing | None = None,
    each: Callable[[], None] | None = None,
    hint: str | None = None,
) -> ExitWait:
    """A wait for a process to exit; finish with `.wait()`."""
    wait = ExitWait(watch=watch, timing=timing or Timing(), each=each)
    return wait if hint is None else replace(wait, hint=hint)
