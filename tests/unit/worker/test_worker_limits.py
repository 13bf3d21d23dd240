"""Limits from the environment, descriptor-fitted connection caps, the connection guard's
admission and eviction, and the JSON rules for request bodies (issue #12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from greentic.errors import InvalidArgument
from greentic.worker import body, limits
from greentic.worker.limits import ConnectionCaps, ConnectionGuard, Gauge, Limits


def test_defaults_fit_a_one_gib_pod() -> None:
    d = limits.from_environ({})
    assert d == Limits()
    worst_mib = d.body_budget_mib + d.max_connections * 320 / 1024  # + uvicorn's per-socket
    assert worst_mib < 512  # leaves half the pod for the runtime, flows and fragmentation


def test_every_limit_has_a_variable_and_bad_values_name_it() -> None:
    environ = {
        "GREENTIC_WORKER_MAX_CONNECTIONS": "100",
        "GREENTIC_WORKER_MAX_IN_FLIGHT": "7",
        "GREENTIC_WORKER_BODY_BUDGET_MIB": "64",
        "GREENTIC_WORKER_HEADER_TIMEOUT_S": "2.5",
        "GREENTIC_WORKER_BODY_TIMEOUT_S": "9",
        "GREENTIC_WORKER_KEEP_ALIVE_S": "1",
        "GREENTIC_WORKER_MAX_HEADER_KIB": "32",
        "GREENTIC_WORKER_RETRY_AFTER_S": "4",
        "GREENTIC_WORKER_UNRELATED": "x",
    }
    got = limits.from_environ(environ)
    assert got == Limits(100, 7, 64, 2.5, 9.0, 1.0, 32, 4)
    assert got.body_budget_bytes == 64 * 1024 * 1024
    assert limits.from_environ({"GREENTIC_WORKER_MAX_IN_FLIGHT": "  "}) == Limits()
    for bad in ("0", "-1", "lots", "1.5"):
        with pytest.raises(InvalidArgument) as err:
            limits.from_environ({"GREENTIC_WORKER_MAX_IN_FLIGHT": bad})
        assert err.value.message == (
            f"GREENTIC_WORKER_MAX_IN_FLIGHT=`{bad}` is not valid: expected a whole number >= 1"
        )
        assert "default (256)" in (err.value.hint or "")
    with pytest.raises(InvalidArgument, match="GREENTIC_WORKER_BODY_TIMEOUT_S"):
        limits.from_environ({"GREENTIC_WORKER_BODY_TIMEOUT_S": "nan"})


@pytest.mark.parametrize(
    ("fd_limit", "serve", "ceiling"),
    [(1 << 20, 512, 576), (1024, 512, 576), (256, 112, 128)],
)
def test_connection_caps_fit_under_the_descriptor_limit(
    fd_limit: int, serve: int, ceiling: int
) -> None:
    caps = limits.connection_caps(512, fd_limit)
    assert caps == ConnectionCaps(serve=serve, ceiling=ceiling)
    in_flight_sockets = limits.IN_FLIGHT_BURSTS * limits.accept_burst(fd_limit)
    assert caps.ceiling + in_flight_sockets + limits.FD_RESERVE <= fd_limit


def test_gauge_claims_only_what_fits() -> None:
    g = Gauge(10)
    assert g.take(6) and not g.take(5) and g.used == 6
    g.give(6)
    assert g.take(10) and g.used == 10


def test_guard_evicts_the_longest_idle_connection_then_refuses_then_drops() -> None:
    guard: ConnectionGuard[str] = ConnectionGuard(ConnectionCaps(serve=2, ceiling=4))
    assert guard.admit("a") == ("serve", None)
    assert guard.admit("b") == ("serve", None)
    guard.busy("b")  # b is in a request: never evicted
    assert guard.admit("c") == ("serve", "a")  # a waited longest for a head
    guard.closed("a")
    guard.busy("c")
    assert guard.admit("d") == ("refuse", None)  # nobody idle: a 503 (probes still 200)
    guard.waiting("b")  # b finished its response and waits again
    assert guard.admit("e") == ("serve", "b")
    assert guard.admit("f") == ("drop", None)  # at the ceiling (b not closed yet)
    guard.closed("b")
    guard.closed("d")
    assert guard.open == 2 and list(guard.idle) == ["e"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"text":"\\ud800"}', body.LONE_SURROGATE),
        (b'["ok", {"k": "\\uDFFF"}]', body.LONE_SURROGATE),
        (b'{"\\ud800": 1}', body.LONE_SURROGATE),
        (b'{"text":"\xed\xa0\x80"}', body.NOT_UTF8),
        (b'{"text":"\xff"}', body.NOT_UTF8),
        (b"[" * 65 + b"]" * 65, body.TOO_DEEP),
        (b"[" * 5000 + b"]" * 5000, body.TOO_DEEP),
        (b"[" * 100_000, body.TOO_DEEP),
        (b"{", body.NOT_JSON),
        (b"\xef\xbb\xbf{}", body.NOT_JSON),
    ],
)
def test_json_a_client_can_get_wrong(raw: bytes, reason: str) -> None:
    with pytest.raises(body.BadJson) as err:
        body.parse_json(raw)
    assert str(err.value) == reason


def test_json_that_is_fine() -> None:
    assert body.parse_json(b"  ") is None
    assert body.parse_json(b'{"text":"\\ud83d\\ude00 \xc3\xa9"}') == {"text": "\U0001f600 é"}
    assert body.parse_json(b"[" * 64 + b"]" * 64) is not None
    brackets_in_text = b'{"text":"' + b"[{" * 100 + b'"}'
    assert body.parse_json(brackets_in_text) == {"text": "[{" * 100}
    assert body.parse_json(b'"\\\\ud800"') == "\\ud800"  # an escaped backslash, not an escape


def test_every_variable_is_documented_with_its_default() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "security.md").read_text()
    defaults = Limits()
    for setting in limits.SETTINGS:
        default = getattr(defaults, setting.field)
        shown = f"{default:g}" if isinstance(default, float) else str(default)
        assert f"| `{setting.variable}` | {shown} |" in doc, setting.variable
