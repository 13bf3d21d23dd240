"""Free loopback ports for servers the harness cannot bind itself (worker, registry).

Servers the harness runs in-process bind port 0 directly; this is for child processes that
take an address on their command line or in their environment. Called by track backends.
"""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port the OS just reported free on `host` (a child binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when nothing listens on host:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def preferred_port(port: int, host: str = LOOPBACK) -> int:
    """`port` when it is free (the documented default, e.g. 8080), else any free port."""
    return port if port_is_free(port, host) else free_port(host)
