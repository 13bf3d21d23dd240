"""The harness side of the fake cloudflared: install it as an executable, find each URL's edge.

The fake records `{url, host, edge_port, origin, argv, pid}` as `<edge dir>/<host>.json` before
it prints the URL; `EdgeRegistry` reads those so a test can reach `https://x.trycloudflare.com`
the way the internet would: through the loopback edge, with that Host. Used by
scenarios/tunnel.py and the tunnel tests.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from harness import waits
from harness.fakes import cloudflared as fake
from harness.ports import LOOPBACK

EDGE_DIR_ENV = fake.EDGE_DIR_ENV
MODE_ENV = fake.MODE_ENV
DELAY_ENV = fake.DELAY_ENV
EXIT_CODE_ENV = fake.EXIT_CODE_ENV
HOST_ENV = fake.HOST_ENV
EDGE_BIND_ENV = fake.EDGE_BIND_ENV
HTTP_TIMEOUT_S = 5.0
# a quick-tunnel URL standing alone: not `https://api.trycloudflare.com/tunnel` in an error line
QUICK_TUNNEL_URL = re.compile(r"https://[a-z0-9-]+\.trycloudflare\.com(?=[\s|)\"',]|$)", re.M)


def install_script(source: Path, dest: Path, *, python: str = sys.executable) -> Path:
    """Copy a standalone fake script to `dest` with a `#!<python>` line; executable."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    body = "".join(lines[1:] if lines and lines[0].startswith("#!") else lines)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(f"#!{python}\n{body}", encoding="utf-8")
    dest.chmod(0o755)
    return dest


def install_cloudflared(dest_dir: Path, *, python: str = sys.executable) -> Path:
    """`<dest_dir>/cloudflared`: the fake, runnable as `--cloudflared-binary`."""
    return install_script(Path(fake.__file__), dest_dir / "cloudflared", python=python)


@dataclass(frozen=True)
class Edge:
    """One quick tunnel: its public URL and the loopback port that stands in for it."""

    url: str
    host: str
    port: int
    origin: str
    argv: tuple[str, ...]
    pid: int

    @property
    def base_url(self) -> str:
        """Where the edge listens (`http://127.0.0.1:<port>`)."""
        return f"http://{LOOPBACK}:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        *,
        host: str | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """`method <url><path>` as a client on the internet sends it: through the edge, with
        the tunnel's Host (or `host`)."""
        sent = {"Host": host or self.host, **(headers or {})}
        with httpx.Client(timeout=HTTP_TIMEOUT_S, trust_env=False) as client:
            return client.request(
                method, self.base_url + path, headers=sent, json=json, content=content
            )


def edge_of(doc: Any) -> Edge | None:
    """The Edge a fake cloudflared recorded (`<host>.json`), None when it is not one."""
    if not isinstance(doc, dict):
        return None
    try:
        return Edge(
            url=str(doc["url"]),
            host=str(doc["host"]),
            port=int(doc["edge_port"]),
            origin=str(doc["origin"]),
            argv=tuple(str(a) for a in doc.get("argv", [])),
            pid=int(doc["pid"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


class EdgeRegistry:
    """The directory the fake cloudflared records its edges in.

    Example:
        edges = EdgeRegistry(work / "edges")   # pass edges.env() to the worker
        edge = edges.wait(public_url)          # after the worker printed it
        edge.request("GET", "/chat").status_code
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        """What a process that spawns the fake (the worker) needs in its environment."""
        return {EDGE_DIR_ENV: str(self.directory)}

    def edges(self) -> list[Edge]:
        """Every live tunnel recorded right now."""
        found: list[Edge] = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                edge = edge_of(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
            if edge is not None:
                found.append(edge)
        return found

    def lookup(self, url: str) -> Edge | None:
        """The edge of `https://<host>[/…]`, or None when no fake tunnel has that host."""
        host = urlsplit(url).hostname or ""
        if not host or os.sep in host:
            return None
        return next((e for e in self.edges() if e.host == host), None)

    def wait(self, url: str, *, timeout: float = 5.0, watch: waits.Watched | None = None) -> Edge:
        """The edge of `url`, once recorded; a diagnostic error when it never is."""
        return waits.Poll(
            what=f"a fake cloudflared edge for {url} in {self.directory}",
            attempt=lambda: self.lookup(url),
            timing=waits.Timing(timeout=timeout),
            watch=watch,
            hint=f"was the worker started with the fake cloudflared and {EDGE_DIR_ENV} set?",
            status=lambda: f"recorded: {[e.url for e in self.edges()] or 'none'}",
        ).run()
