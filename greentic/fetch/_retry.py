"""Bounded retries with exponential backoff, with an injectable sleep for tests.

A plain loop (it was tenacity's `Retrying` with the same rules: stop after `attempts`, retry
only TransientFetchError, wait 0.5 s × 2^(n-1) clamped to [0.5, 8] s after the n-th failure,
re-raise the last one): importing tenacity was ~5 ms of every pulling cold boot (#16).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from greentic.errors import FetchError
from greentic.fetch._deadline import Deadline
from greentic.fetch._types import TransientFetchError

T = TypeVar("T")
FIRST_WAIT_S = 0.5
MAX_WAIT_S = 8.0


def backoff(failures: int) -> float:
    """Seconds to wait after the `failures`-th failed attempt: 0.5, 1, 2, 4, 8, 8, …"""
    return max(FIRST_WAIT_S, min(FIRST_WAIT_S * 2.0 ** min(failures - 1, 16), MAX_WAIT_S))


def with_retries(
    attempt: Callable[[], T],
    *,
    attempts: int,
    sleep: Callable[[float], None],
    deadline: Deadline | None = None,
) -> T:
    """Run `attempt` until it succeeds, fails permanently, or `attempts` transient failures.

    With a `deadline`, no attempt starts after it and no backoff sleeps past it.
    """
    pause = sleep if deadline is None else deadline.sleep(sleep)
    tries = max(attempts, 1)
    failures = 0
    while True:
        if deadline is not None:
            deadline.check()
        try:
            return attempt()
        except TransientFetchError as exc:
            failures += 1
            if failures < tries:
                pause(backoff(failures))
                continue
            if deadline is not None and deadline.expired():
                raise deadline.error() from None
            note = f" (gave up after {attempts} attempts)" if attempts > 1 else ""
            raise FetchError(exc.message + note, hint=exc.hint) from None
