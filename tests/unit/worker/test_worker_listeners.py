"""Bind-address layering, loopback detection and the GUI default."""

from __future__ import annotations

import pytest

from greentic.worker import listeners
from greentic.worker.listeners import Address


def test_default_is_loopback_8080() -> None:
    assert listeners.resolve_bind(None, {}) == (Address("127.0.0.1", 8080), [])


def test_layers_in_order() -> None:
    addr, warnings = listeners.resolve_bind("10.0.0.1:9000", {})
    assert addr == Address("10.0.0.1", 9000)
    env = {"GREENTIC_GATEWAY_LISTEN_ADDR": "0.0.0.0"}
    assert listeners.resolve_bind("10.0.0.1:9000", env)[0] == Address("0.0.0.0", 9000)
    env = {"GREENTIC_GATEWAY_LISTEN_ADDR": "127.0.0.2:7000", "PORT": "7001"}
    assert listeners.resolve_bind("10.0.0.1:9000", env)[0] == Address("127.0.0.2", 7001)
    assert warnings == []


def test_k8s_bare_ip_keeps_the_default_port() -> None:
    env = {"GREENTIC_GATEWAY_LISTEN_ADDR": "0.0.0.0"}
    assert listeners.resolve_bind(None, env) == (Address("0.0.0.0", 8080), [])


def test_ipv6_forms() -> None:
    env = {"GREENTIC_GATEWAY_LISTEN_ADDR": "[::1]:9001"}
    addr = listeners.resolve_bind(None, env)[0]
    assert addr == Address("::1", 9001)
    assert str(addr) == "[::1]:9001"
    assert addr.url == "http://[::1]:9001"
    assert listeners.resolve_bind(None, {"GREENTIC_GATEWAY_LISTEN_ADDR": "::"})[0].ip == "::"


def test_blank_values_are_ignored_silently() -> None:
    env = {"GREENTIC_GATEWAY_LISTEN_ADDR": "  ", "PORT": ""}
    assert listeners.resolve_bind("", env) == (Address("127.0.0.1", 8080), [])


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"GREENTIC_GATEWAY_LISTEN_ADDR": "localhost:80"}, "GREENTIC_GATEWAY_LISTEN_ADDR"),
        ({"PORT": "http"}, "PORT=`http`"),
        ({"PORT": "70000"}, "PORT=`70000`"),
    ],
)
def test_invalid_values_warn_and_are_ignored(env: dict[str, str], fragment: str) -> None:
    addr, warnings = listeners.resolve_bind(None, env)
    assert addr == Address("127.0.0.1", 8080)
    assert len(warnings) == 1
    assert fragment in warnings[0]


def test_port_zero_means_any() -> None:
    assert listeners.resolve_bind(None, {"PORT": "0"})[0].port == 0


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.6.7", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.5", False),
        ("::ffff:10.0.0.5", False),
        ("testclient", False),
        (None, False),
    ],
)
def test_is_loopback(host: str | None, loopback: bool) -> None:
    assert listeners.is_loopback(host) is loopback


def test_gui_default_is_on_for_local_only() -> None:
    assert listeners.gui_enabled(None, "local") is True
    assert listeners.gui_enabled(None, "prod") is False
    assert listeners.gui_enabled(True, "prod") is True
    assert listeners.gui_enabled(False, "local") is False
