"""The shared context-manager shapes: what runs on entry, on exit, and on a failed start."""

from __future__ import annotations

import pytest

from harness.closing import CloseOnExit, ExitStops, StopOnExit, TearDownOnExit


class Stops(StopOnExit):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self) -> None:
        self.calls.append("start")

    def stop(self) -> None:
        self.calls.append("stop")


class TearsDown(TearDownOnExit):
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[object] = []

    def set_up(self) -> None:
        self.calls.append("set_up")
        if self.fail:
            raise KeyboardInterrupt

    def tear_down(self, exc: BaseException | None) -> None:
        self.calls.append(exc)


def test_stop_on_exit_starts_gives_itself_and_stops_even_on_error() -> None:
    r = Stops()
    with pytest.raises(ValueError), r as entered:
        assert entered is r and r.calls == ["start"]
        raise ValueError
    assert r.calls == ["start", "stop"]


def test_stop_on_exit_starts_nothing_by_default() -> None:
    class Running(StopOnExit):
        stopped = False

        def stop(self) -> None:
            self.stopped = True

    with Running() as r:
        assert not r.stopped
    assert r.stopped


def test_close_on_exit_opens_and_closes() -> None:
    calls: list[str] = []

    class Closes(CloseOnExit):
        def open(self) -> None:
            calls.append("open")

        def close(self) -> None:
            calls.append("close")

    with Closes():
        assert calls == ["open"]
    assert calls == ["open", "close"]


def test_tear_down_gets_the_error_that_ended_the_block() -> None:
    r = TearsDown()
    with r:
        pass
    assert r.calls == ["set_up", None]
    boom = ValueError("boom")
    with pytest.raises(ValueError), TearsDown() as r2:
        raise boom
    assert r2.calls == ["set_up", boom]


def test_a_failed_set_up_is_torn_down_then_raised() -> None:
    r = TearsDown(fail=True)
    with pytest.raises(KeyboardInterrupt), r:
        pytest.fail("the block must not run")
    assert r.calls[0] == "set_up" and isinstance(r.calls[1], KeyboardInterrupt)
    assert len(r.calls) == 2


def test_a_resource_without_stop_cannot_be_built() -> None:
    class Forgot(StopOnExit):
        pass

    with pytest.raises(TypeError):
        Forgot()  # type: ignore[abstract]


def test_exit_stops_leaves_the_entry_to_the_resource() -> None:
    class Forward(ExitStops):
        stopped = False

        def __enter__(self) -> str:
            return "http://127.0.0.1:1"

        def stop(self) -> None:
            self.stopped = True

    forward = Forward()
    with forward as url:
        assert url == "http://127.0.0.1:1" and not forward.stopped
    assert forward.stopped
