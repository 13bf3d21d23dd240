"""Waits with a fake clock: zero wall time, every outcome (value, timeout, exit, transient)."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pytest

from harness import waits


@dataclass
class FakeClock:
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def timing(self, timeout: float = 1.0, interval: float = 0.1) -> waits.Timing:
        return waits.Timing(timeout=timeout, interval=interval, clock=self, sleep=self.sleep)


@dataclass
class FakeProcess:
    text: str = ""
    code: int | None = None

    def exit_code(self) -> int | None:
        return self.code

    def logs(self) -> str:
        return self.text


def test_poll_returns_the_first_non_none_value() -> None:
    clock = FakeClock()
    answers = iter([None, None, "ready"])
    value = waits.Poll("x", lambda: next(answers), timing=clock.timing()).run()
    assert value == "ready"
    assert clock.sleeps == [0.1, 0.1]


def test_timeout_names_the_wait_the_last_status_the_log_tail_and_a_hint() -> None:
    clock = FakeClock()
    proc = FakeProcess(text="x" * 500 + "LAST-LINE")
    with pytest.raises(waits.WaitTimeout) as info:
        waits.Poll(
            "the banner",
            lambda: None,
            timing=clock.timing(timeout=1.0),
            watch=proc,
            hint="read the logs",
            status=lambda: "no banner yet",
        ).run()
    message = str(info.value)
    assert message.startswith("timed out after 1s waiting for the banner (last: no banner yet)")
    assert "LAST-LINE" in message
    assert "x" * 201 not in message  # only the last 200 characters of the logs
    assert message.endswith("\nHint: read the logs")
    assert 1.0 <= clock.now < 1.2  # one deadline, no extra sleeps past it


def test_transient_errors_are_retried_and_reported() -> None:
    clock = FakeClock()
    calls = 0

    def attempt() -> str | None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("refused")
        return "ok"

    assert (
        waits.Poll("x", attempt, timing=clock.timing(), transient=(ConnectionError,)).run() == "ok"
    )
    with pytest.raises(waits.WaitTimeout, match="last error: ConnectionError: refused"):
        waits.Poll(
            "y",
            lambda: (_ for _ in ()).throw(ConnectionError("refused")),
            timing=clock.timing(),
            transient=(ConnectionError,),
        ).run()


def test_other_errors_end_the_wait_at_once() -> None:
    clock = FakeClock()

    def attempt() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        waits.Poll("x", attempt, timing=clock.timing(), transient=(ConnectionError,)).run()
    assert clock.sleeps == []


def test_an_exited_process_fails_the_wait_fast_with_its_code_and_logs() -> None:
    clock = FakeClock()
    proc = FakeProcess(text="Error: cannot bind", code=3)
    with pytest.raises(waits.ProcessExited) as info:
        waits.until_log(proc, "serving", timing=clock.timing(timeout=30)).wait()
    assert info.value.code == 3
    assert "exited with code 3" in str(info.value)
    assert "cannot bind" in str(info.value)
    assert clock.sleeps == []


def test_until_log_matches_once_the_line_appears() -> None:
    clock = FakeClock()
    proc = FakeProcess()

    def grow(seconds: float) -> None:
        clock.sleep(seconds)
        proc.text += "line\n" if clock.now < 0.3 else "serving 1 revision(s) for env `local`\n"

    timing = waits.Timing(timeout=5, interval=0.1, clock=clock, sleep=grow)
    match = waits.until_log(proc, r"serving (\d+) revision", timing=timing).wait()
    assert match.group(1) == "1"


def test_until_exit_returns_the_code_and_probes_while_alive() -> None:
    clock = FakeClock()
    proc = FakeProcess()
    probes: list[float] = []

    def probe() -> None:
        probes.append(clock.now)
        if len(probes) == 3:
            proc.code = 1

    assert waits.until_exit(proc, timing=clock.timing(), each=probe).wait() == 1
    assert len(probes) == 3


def test_until_exit_times_out_when_the_process_keeps_running() -> None:
    clock = FakeClock()
    with pytest.raises(waits.WaitTimeout, match="waiting for the process to exit"):
        waits.until_exit(FakeProcess(), timing=clock.timing(timeout=0.5)).wait()


def test_until_http_polls_until_the_status_matches() -> None:
    clock = FakeClock()
    answers = iter([503, 503, 200])
    transport = httpx.MockTransport(lambda req: httpx.Response(next(answers), text="ok"))
    response = waits.until_http(
        "http://127.0.0.1:9/healthz", timing=clock.timing(), transport=transport
    ).status(200)
    assert response.status_code == 200
    assert len(clock.sleeps) == 2


def test_until_http_timeout_reports_the_last_answer() -> None:
    clock = FakeClock()
    transport = httpx.MockTransport(lambda req: httpx.Response(404, text="no deployment"))
    wait = waits.until_http("http://127.0.0.1:9/x", timing=clock.timing(), transport=transport)
    with pytest.raises(waits.WaitTimeout, match=r"last: HTTP 404 'no deployment'"):
        wait.within(0.3).status(200)


def test_until_http_retries_connection_errors() -> None:
    clock = FakeClock()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200)

    transport = httpx.MockTransport(handler)
    assert (
        waits.until_http("http://127.0.0.1:9/", timing=clock.timing(), transport=transport)
        .status(200)
        .status_code
        == 200
    )


def test_tail_keeps_the_last_characters() -> None:
    assert waits.tail("short") == "short"
    cut = waits.tail("a" * 300 + "END")
    assert cut.startswith("…") and cut.endswith("END") and len(cut) == 201
