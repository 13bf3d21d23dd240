"""Where the worker listens, and whether a listener trusts its loopback peers (SPEC §7).

Bind address, lowest to highest precedence (reference worker §4.1): `127.0.0.1:8080`, then
`host_config.listen_addr`, then `GREENTIC_GATEWAY_LISTEN_ADDR` (`ip:port`, or a bare IP that
keeps the port), then `PORT`. Blank values are ignored; invalid ones are ignored with a warning.
Pure: the process module reads the environment and passes it in.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_IP = "127.0.0.1"
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class Address:
    """An IP and a port; `str()` is `ip:port` (IPv6 bracketed), `url` adds `http://`."""

    ip: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self}"


@dataclass(frozen=True)
class Listener:
    """One bound listener. `trusted_console` gates /chat and /workers/invoke to loopback peers.

    Without a tunnel the single listener is trusted; a tunnel makes the public listener
    untrusted and adds a trusted loopback admin listener on `127.0.0.1:<port+1>`.
    """

    address: Address
    trusted_console: bool = True


def parse_ip(text: str) -> str | None:
    """The canonical form of an IPv4/IPv6 literal, or None."""
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        return None


def parse_port(text: str) -> int | None:
    """A port number 0..65535 (0 = any free port), or None."""
    text = text.strip()
    if not text.isdigit():
        return None
    port = int(text)
    return port if port <= 65535 else None


def parse_socket_addr(text: str) -> Address | None:
    """`ip:port` or `[v6]:port`, or None."""
    text = text.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
    if not sep:
        return None
    ip, num = parse_ip(host), parse_port(port)
    return Address(ip, num) if ip is not None and num is not None else None


def resolve_bind(listen_addr: str | None, environ: Mapping[str, str]) -> tuple[Address, list[str]]:
    """The bind address and the warnings for ignored values."""
    warnings: list[str] = []
    addr = Address(DEFAULT_IP, DEFAULT_PORT)
    if listen_addr and listen_addr.strip():
        parsed = parse_socket_addr(listen_addr)
        if parsed is None:
            warnings.append(f"ignoring host_config.listen_addr `{listen_addr}` (expected ip:port)")
        else:
            addr = parsed
    raw = environ.get("GREENTIC_GATEWAY_LISTEN_ADDR", "").strip()
    if raw:
        full = parse_socket_addr(raw)
        bare = parse_ip(raw)
        if full is not None:
            addr = full
        elif bare is not None:
            addr = Address(bare, addr.port)
        else:
            warnings.append(
                f"ignoring GREENTIC_GATEWAY_LISTEN_ADDR=`{raw}` (expected an IP or ip:port)"
            )
    raw_port = environ.get("PORT", "").strip()
    if raw_port:
        port = parse_port(raw_port)
        if port is None:
            warnings.append(f"ignoring PORT=`{raw_port}` (expected a number 0-65535)")
        else:
            addr = Address(addr.ip, port)
    return addr, warnings


@functools.lru_cache(maxsize=1024)
def is_loopback(host: str | None) -> bool:
    """Whether a peer address is loopback (IPv4-mapped `::ffff:127.0.0.1` counts); cached."""
    if not host:
        return False
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def _host_port(authority: str) -> tuple[str, str]:
    """`(host, port)` of `host[:port]` / `[v6][:port]`, lowercased; port "" when absent."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        return host, rest.removeprefix(":")
    host, sep, port = authority.rpartition(":")
    return (host, port) if sep and ":" not in host else (authority, "")


def loopback_request(host: str | None, origin: str | None) -> bool:
    """A loopback `Host` (any port) and no foreign `Origin` (DNS-rebinding and cross-site
    defence, SPEC §7): an Origin must name a loopback host on the Host's port."""
    if not host:
        return False
    name, port = _host_port(host)
    if name not in LOOPBACK_NAMES:
        return False
    if origin is None:
        return True
    scheme, sep, authority = origin.strip().partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return False  # includes `null` (sandboxed / file pages)
    o_name, o_port = _host_port(authority)
    return o_name in LOOPBACK_NAMES and (o_port or "80") == (port or "80")


def admin_candidates(main_port: int, span: int = 10) -> list[int]:
    """Ports to try for the admin listener: main+1 … main+span (upstream's bump rule)."""
    return [p for p in range(main_port + 1, main_port + span + 1) if p <= 65535]


def gui_enabled(configured: bool | None, env_id: str) -> bool:
    """The webchat console is on by default for env `local` and off elsewhere unless set."""
    return configured if configured is not None else env_id == "local"
