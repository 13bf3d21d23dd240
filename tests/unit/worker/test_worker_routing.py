"""Route resolution (Host + longest prefix on segment boundaries) and weighted, sticky picks."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greentic.worker import routing
from greentic.worker.routing import Route


def route(dep: str, *prefixes: str, hosts: tuple[str, ...] = (), tenant: str = "t") -> Route:
    return Route(dep, "b", tenant, "default", hosts, prefixes or ("/",))


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("/", "/"), ("", "/"), ("//api/", "/api"), ("/api//v1/", "/api//v1"), ("api", "/api")],
)
def test_normalize_prefix(raw: str, normal: str) -> None:
    assert routing.normalize_prefix(raw) == normal


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("Example.COM:8080", "example.com"),
        ("example.com", "example.com"),
        ("[::1]:8080", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        (None, None),
        ("", None),
    ],
)
def test_request_host_strips_port_and_case(header: str | None, host: str | None) -> None:
    assert routing.request_host(header) == host


def test_prefix_matches_on_segment_boundaries_only() -> None:
    api = route("API", "/api")
    assert routing.resolve([api], None, "/api") is api
    assert routing.resolve([api], None, "/api/x") is api
    assert routing.resolve([api], None, "/apix") is None
    assert routing.resolve([api], None, "/") is None


def test_longest_prefix_wins_regardless_of_order() -> None:
    root, api, v1 = route("ROOT", "/"), route("API", "/api"), route("V1", "/api/v1")
    routes = [root, v1, api]
    assert routing.resolve(routes, None, "/api/v1/chat") is v1
    assert routing.resolve(routes, None, "/api/v2") is api
    assert routing.resolve(routes, None, "/other") is root


def test_ties_go_to_the_first_route() -> None:
    first, second = route("A", "/x"), route("B", "/x")
    assert routing.resolve([first, second], None, "/x") is first


def test_hosts_must_match_when_listed() -> None:
    bound = route("H", "/", hosts=("bot.example.com",))
    anyhost = route("ANY", "/")
    assert routing.resolve([bound], "BOT.example.com:443", "/") is bound
    assert routing.resolve([bound], "other.example.com", "/") is None
    assert routing.resolve([bound], None, "/") is None
    assert routing.resolve([bound, anyhost], "other", "/") is anyhost


def test_resolve_worker_by_tenant_else_only_route() -> None:
    a, b = route("A", tenant="acme"), route("B", tenant="beta")
    assert routing.resolve_worker([a, b], "beta") is b
    assert routing.resolve_worker([a, b], "nope") is None
    assert routing.resolve_worker([a], "nope") is a
    assert routing.resolve_worker([], "x") is None


def test_pick_follows_weights() -> None:
    rng = random.Random(7)
    entries = [("R1", 9000), ("R2", 1000)]
    counts = Counter(
        routing.pick(entries, session_key=None, rand_below=rng.randrange) for _ in range(5000)
    )
    assert 4350 < counts["R1"] < 4650
    assert counts["R1"] + counts["R2"] == 5000


def test_pick_walks_entries_in_order() -> None:
    entries = [("A", 2500), ("Z", 0), ("B", 7500)]
    assert routing.pick(entries, session_key=None, rand_below=lambda _n: 0) == "A"
    assert routing.pick(entries, session_key=None, rand_below=lambda _n: 2499) == "A"
    assert routing.pick(entries, session_key=None, rand_below=lambda _n: 2500) == "B"
    assert routing.pick(entries, session_key=None, rand_below=lambda _n: 9999) == "B"


def test_pick_with_no_weight_is_none() -> None:
    assert routing.pick([("A", 0)], session_key=None, rand_below=lambda _n: 0) is None
    assert routing.pick([], session_key="u", rand_below=lambda _n: 0) is None


def test_session_key_pins_a_user_and_spreads_users() -> None:
    entries = [("A", 5000), ("B", 5000)]

    def boom(_n: int) -> int:
        raise AssertionError("a pinned pick must not draw randomly")

    first = routing.pick(entries, session_key="user-1", rand_below=boom)
    assert all(
        routing.pick(entries, session_key="user-1", rand_below=boom) == first for _ in range(20)
    )
    users = Counter(
        routing.pick(entries, session_key=f"user-{i}", rand_below=boom) for i in range(2000)
    )
    assert 850 < users["A"] < 1150


@given(st.text(min_size=1), st.integers(min_value=1, max_value=10000))
def test_bucket_is_in_range(key: str, total: int) -> None:
    assert 0 <= routing.bucket(key, total) < total
