"""The harness's context-manager shapes, written once.

Every harness resource (a child process, a port-forward, a fake server, a kind cluster, the
docker pods) is used as `with resource:`; these mixins give it `__enter__` / `__exit__` from
the verbs it already has, so each class says only how it starts and how it stops.

- `StopOnExit`: `start()` on entry (nothing by default), `stop()` however the block ends;
  `ExitStops` is its exit half alone, for a resource whose `__enter__` gives something else.
- `CloseOnExit`: the same for a resource whose verbs are `open()` / `close()`.
- `TearDownOnExit`: `set_up()` on entry, `tear_down(exc)` on exit *and* when `set_up()` fails
  halfway (so nothing half-started is left), `exc` being what ended the block (None: normally).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self


class ExitStops(ABC):
    """`with r:` runs `r.stop()` however the block ends (`r` writes its own `__enter__`)."""

    @abstractmethod
    def stop(self) -> object:
        """Stop it; called by `__exit__` (and safe to call by hand)."""

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class StopOnExit(ExitStops):
    """`with r:` runs `r.start()`, gives `r`, and runs `r.stop()` however the block ends.

    Example:
        class Fake(StopOnExit):
            def start(self) -> Fake: ...
            def stop(self) -> None: ...
    """

    def start(self) -> object:
        """Nothing by default: a resource already running once built only needs stopping."""
        return None

    def __enter__(self) -> Self:
        self.start()
        return self


class CloseOnExit(StopOnExit):
    """`StopOnExit` for a resource that opens and closes: `open()` on entry, `close()` on exit."""

    def open(self) -> object:
        """Nothing by default."""
        return None

    @abstractmethod
    def close(self) -> object:
        """Close it; called by `__exit__` (and safe to call by hand)."""

    def start(self) -> object:
        return self.open()

    def stop(self) -> object:
        return self.close()


class TearDownOnExit(ABC):
    """`with r:` runs `r.set_up()`, gives `r`, and runs `r.tear_down(exc)` when the block ends,
    or at once when `set_up()` raises (then the error goes on, after the tear-down)."""

    @abstractmethod
    def set_up(self) -> None:
        """Bring it up; may fail halfway (the tear-down then cleans what was done)."""

    @abstractmethod
    def tear_down(self, exc: BaseException | None) -> None:
        """Release everything `set_up` made; `exc` ended the block (None when it ended well)."""

    def __enter__(self) -> Self:
        try:
            self.set_up()
        except BaseException as exc:
            self.tear_down(exc)
            raise
        return self

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        self.tear_down(exc)
