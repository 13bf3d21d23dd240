"""The fetch retry loop keeps tenacity's rules (it replaced `Retrying`, #16): the waits, the
number of attempts, what is retried, the give-up message and the deadline."""

from __future__ import annotations

import pytest
from tenacity import RetryCallState, wait_exponential

from greentic.errors import FetchError
from greentic.fetch._deadline import Deadline
from greentic.fetch._retry import backoff, with_retries
from greentic.fetch._types import TransientFetchError


def test_backoff_is_tenacitys_wait_exponential() -> None:
    wait = wait_exponential(multiplier=0.5, min=0.5, max=8)
    for n in range(1, 40):
        state = RetryCallState(None, None, (), {})
        state.attempt_number = n
        assert backoff(n) == wait(state)


class Flaky:
    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or TransientFetchError("source said 503", hint="retry later")
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "body"


def test_transient_failures_are_retried_with_backoff() -> None:
    slept: list[float] = []
    flaky = Flaky(2)
    assert with_retries(flaky, attempts=3, sleep=slept.append) == "body"
    assert flaky.calls == 3 and slept == [0.5, 1.0]


def test_the_last_transient_failure_gives_up_naming_the_attempts() -> None:
    slept: list[float] = []
    flaky = Flaky(5)
    with pytest.raises(FetchError) as info:
        with_retries(flaky, attempts=3, sleep=slept.append)
    assert flaky.calls == 3 and slept == [0.5, 1.0]
    assert not isinstance(info.value, TransientFetchError)
    assert info.value.message == "source said 503 (gave up after 3 attempts)"
    assert info.value.hint == "retry later"


def test_one_attempt_gives_up_at_once_without_a_note() -> None:
    with pytest.raises(FetchError, match=r"^source said 503$"):
        with_retries(Flaky(1), attempts=1, sleep=lambda _s: None)


def test_a_permanent_failure_is_not_retried() -> None:
    flaky = Flaky(1, FetchError("404: not found"))
    with pytest.raises(FetchError, match="404"):
        with_retries(flaky, attempts=5, sleep=lambda _s: None)
    assert flaky.calls == 1


def test_no_attempt_starts_after_the_deadline() -> None:
    now = [0.0]
    deadline = Deadline(1.0, "fetching x", clock=lambda: now[0])

    def sleep(seconds: float) -> None:
        now[0] += seconds

    flaky = Flaky(9)
    with pytest.raises(FetchError, match="overall deadline"):
        with_retries(flaky, attempts=9, sleep=sleep, deadline=deadline)
    assert flaky.calls == 2  # the second backoff is cut to the 0.5 s left, then time is up
