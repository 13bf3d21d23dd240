"""One overall deadline per pull, so a source trickling bytes cannot hold a boot forever.

Per-operation timeouts (connect/read/write) do not bound a server that sends one byte every
20 s; the deadline does. Every request gets `min(timeout, time left)` as its timeouts, every
streamed chunk and every retry checks the clock, and backoff sleeps never outlast it. A pull
therefore ends within the deadline plus at most one read already in flight.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from greentic.errors import FetchError, InvalidArgument

DEADLINE_VAR = "GREENTIC_FETCH_DEADLINE"
# 512 MiB (the default cap) at ~1 MiB/s, plus room for auth, retries and backoff.
DEFAULT_DEADLINE = 900.0
MIN_TIMEOUT = 0.01


def parse_deadline(raw: str | None) -> float:
    """Seconds from $GREENTIC_FETCH_DEADLINE (unset or blank: the default)."""
    if raw is None or not raw.strip():
        return DEFAULT_DEADLINE
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidArgument(
            f"{DEADLINE_VAR}=`{raw}` is not a positive number of seconds; "
            f"set it like {DEADLINE_VAR}={DEFAULT_DEADLINE:g} or unset it for the default"
        )
    return seconds


class Deadline:
    """Example: `d = Deadline(60, "fetching https://h/b.gtbundle"); d.check()` in every loop."""

    def __init__(
        self, seconds: float, what: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.what = what
        self._clock = clock
        self._end = clock() + seconds

    @classmethod
    def unbounded(cls, what: str) -> Deadline:
        """No overall deadline (pushes: the operator is watching)."""
        return cls(math.inf, what)

    def remaining(self) -> float:
        return self._end - self._clock()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def error(self) -> FetchError:
        """The one-line failure: which pull, how long, and which variable to raise."""
        return FetchError(
            f"{self.what}: not finished within the {self.seconds:g}s overall deadline "
            f"({DEADLINE_VAR}); the source is stalling or too slow",
            hint=f"check the source, or raise {DEADLINE_VAR} (seconds) for a slow trusted one",
        )

    def check(self) -> None:
        """Raise the deadline error once time is up (never retried)."""
        if self.expired():
            raise self.error()

    def timeout(self, per_operation: float) -> float:
        """The timeout for the next request: the per-operation one, cut to the time left."""
        return max(min(per_operation, self.remaining()), MIN_TIMEOUT)

    def sleep(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        """`sleep`, cut to the time left (a backoff never outlasts the deadline)."""

        def bounded(seconds: float) -> None:
            sleep(max(min(seconds, self.remaining()), 0.0))

        return bounded
