"""Bounded retries with exponential backoff (tenacity), with an injectable sleep for tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from greentic.errors import FetchError
from greentic.fetch._deadline import Deadline
from greentic.fetch._types import TransientFetchError

T = TypeVar("T")


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
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

    def checked() -> T:
        if deadline is not None:
            deadline.check()
        return attempt()

    retrying = Retrying(
        stop=stop_after_attempt(max(attempts, 1)),
        wait=wait_exponential(multiplier=0.5, min=0.5, max=8),
        retry=retry_if_exception_type(TransientFetchError),
        sleep=sleep if deadline is None else deadline.sleep(sleep),
        reraise=True,
    )
    try:
        return retrying(checked)
    except TransientFetchError as exc:
        if deadline is not None and deadline.expired():
            raise deadline.error() from None
        note = f" (gave up after {attempts} attempts)" if attempts > 1 else ""
        raise FetchError(exc.message + note, hint=exc.hint) from None
