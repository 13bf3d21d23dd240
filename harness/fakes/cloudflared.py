#!/usr/bin/env python3
"""A stand-in for `cloudflared tunnel --url http://127.0.0.1:<port> --no-autoupdate`.

Like a real quick tunnel it prints its banner (to stderr) with a random
`https://<words>.trycloudflare.com` URL, and requests to that URL reach the origin from
loopback: here through a loopback "edge" TCP port relayed to the origin. The edge of each URL
is recorded as `$GTC_FAKE_EDGE_DIR/<host>.json` BEFORE the URL is printed, so whoever sees
the URL can reach it (the harness, the fake Bot API). The edge listens on loopback; in a pod
GTC_FAKE_CLOUDFLARED_EDGE_BIND=0.0.0.0 puts it on the pod's network, where the internet (the
fake Bot API's container) reaches it. Failure knobs (env): GTC_FAKE_CLOUDFLARED
_MODE = serve | exit | no-url, _DELAY_S (before the URL), _EXIT_CODE, _HOST (fixed host label).
Exits 0 on SIGTERM/SIGINT and when its parent dies. Stdlib only: the worker spawns it through
`--cloudflared-binary` (see harness.fakes.edges.install_cloudflared), also in a container.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

EDGE_DIR_ENV = "GTC_FAKE_EDGE_DIR"
MODE_ENV = "GTC_FAKE_CLOUDFLARED_MODE"
DELAY_ENV = "GTC_FAKE_CLOUDFLARED_DELAY_S"
EXIT_CODE_ENV = "GTC_FAKE_CLOUDFLARED_EXIT_CODE"
HOST_ENV = "GTC_FAKE_CLOUDFLARED_HOST"
EDGE_BIND_ENV = "GTC_FAKE_CLOUDFLARED_EDGE_BIND"
MODES = ("serve", "exit", "no-url")
VERSION = "2024.8.2"
QUICK_TUNNEL_DOMAIN = "trycloudflare.com"

MAX_CONNECTIONS = 64  # relayed connections at once; more are refused
IDLE_TIMEOUT_S = 120.0  # a relayed direction with no bytes for this long is closed
CHUNK = 64 * 1024
PARENT_POLL_S = 0.5
# fmt: off
WORDS = (
    "amber", "basin", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "island",
    "juniper", "kernel", "lagoon", "meadow", "nebula", "orchard", "prairie", "quartz", "river",
    "summit", "tundra", "upland", "valley", "willow", "yonder", "zephyr", "bright", "calm",
    "deep", "eager", "fancy", "gentle", "hidden", "jolly", "kind", "lucky", "merry", "noble",
)
# fmt: on
_BAD_GATEWAY_BODY = (
    b"Unable to reach the origin service. The service may be down or it may not be "
    b"responding to traffic from cloudflared\n"
)
BAD_GATEWAY = (
    b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    + f"Content-Length: {len(_BAD_GATEWAY_BODY)}\r\n\r\n".encode()
    + _BAD_GATEWAY_BODY
)
USAGE = "Usage: cloudflared tunnel --url http://127.0.0.1:<port> [--no-autoupdate]"


class UsageError(Exception):
    """Raised when the command line is not one this fake understands."""


def log(level: str, text: str) -> None:
    """One cloudflared-style line (`<rfc3339> INF <text>`) on stderr, flushed."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(f"{stamp} {level} {text}", file=sys.stderr, flush=True)


def parse_origin(argv: list[str]) -> tuple[str, int]:
    """`tunnel --url http://HOST:PORT [--no-autoupdate]` → (host, port)."""
    if not argv or argv[0] != "tunnel":
        raise UsageError(f"expected the `tunnel` command, got {' '.join(argv) or 'nothing'}")
    url: str | None = None
    rest = iter(argv[1:])
    for arg in rest:
        if arg in ("--url", "-url"):
            url = next(rest, None)
        elif arg.startswith(("--url=", "-url=")):
            url = arg.split("=", 1)[1]
        elif arg not in ("--no-autoupdate", "-no-autoupdate"):
            raise UsageError(f"flag provided but not defined: {arg}")
    if not url:
        raise UsageError("a quick tunnel needs --url http://127.0.0.1:<port>")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.port is None:
        raise UsageError(f"--url must be http://host:port, got {url}")
    return parts.hostname, parts.port


def tunnel_host(chosen: str | None = None) -> str:
    """`<four-words>.trycloudflare.com` (or `<chosen>.trycloudflare.com`)."""
    label = chosen or "-".join(random.SystemRandom().sample(WORDS, 4))
    return f"{label}.{QUICK_TUNNEL_DOMAIN}"


def banner_lines(url: str) -> list[str]:
    """The real quick-tunnel box (with the docs URL before it, so scanners must pick)."""
    inner = f"  {url}"
    title = (
        "  Your quick Tunnel has been created! Visit it at (it may take some time to be reachable):"
    )
    width = max(len(title), len(inner)) + 2
    return [
        "+" + "-" * width + "+",
        "|" + title.ljust(width) + "|",
        "|" + inner.ljust(width) + "|",
        "+" + "-" * width + "+",
    ]


def record_edge(directory: Path, entry: dict[str, object]) -> Path:
    """Write `<dir>/<host>.json` atomically (readers never see half a file)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{entry['host']}.json"
    tmp = directory / f".{entry['host']}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(entry, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


class Relay:
    """The loopback edge: each accepted connection is piped to the origin, both ways."""

    def __init__(self, origin: tuple[str, int]) -> None:
        self.origin = origin
        self.active = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.active >= MAX_CONNECTIONS:
            writer.close()
            return
        self.active += 1
        try:
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.origin), timeout=10
                )
            except (OSError, TimeoutError):
                log(
                    "ERR",
                    f"Unable to reach the origin service at {self.origin[0]}:{self.origin[1]}",
                )
                writer.write(BAD_GATEWAY)
                with contextlib.suppress(OSError):
                    await writer.drain()
                return
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self.active -= 1
            writer.close()


async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until EOF (then half-close the sink) or an idle timeout (then close it)."""
    try:
        while True:
            data = await asyncio.wait_for(source.read(CHUNK), timeout=IDLE_TIMEOUT_S)
            if not data:
                if sink.can_write_eof():
                    sink.write_eof()
                return
            sink.write(data)
            await sink.drain()
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        sink.close()


async def watch_parent(stop: asyncio.Event) -> None:
    """Set `stop` once our parent is gone (we were re-parented): die with the worker."""
    parent = os.getppid()
    while not stop.is_set():
        if os.getppid() != parent:
            log("INF", "parent process exited; shutting down the tunnel")
            stop.set()
            return
        await asyncio.sleep(PARENT_POLL_S)


async def serve(origin: tuple[str, int], env: dict[str, str]) -> int:
    """Open the edge, announce the URL (unless told not to), relay until stopped."""
    mode = env.get(MODE_ENV, "serve") or "serve"
    if mode not in MODES:
        log("ERR", f"{MODE_ENV}={mode} is not one of {', '.join(MODES)}")
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log(
        "INF",
        "Thank you for trying Cloudflare Tunnel. Doing so, without a Cloudflare account, "
        "is a quick way to experiment and try it out. However, be aware that these account-less "
        "Tunnels have no uptime guarantee. If you intend to use Tunnels in production you should "
        "use a pre-created named tunnel by following: "
        "https://developers.cloudflare.com/cloudflare-one/connections/connect-apps",
    )
    log("INF", f"Requesting new quick Tunnel on {QUICK_TUNNEL_DOMAIN}...")
    if mode == "exit":
        log(
            "ERR",
            'failed to request quick Tunnel: Post "https://api.trycloudflare.com/tunnel": '
            "dial tcp: lookup api.trycloudflare.com: no such host",
        )
        return int(env.get(EXIT_CODE_ENV) or 1)
    relay = Relay(origin)
    bind = env.get(EDGE_BIND_ENV) or "127.0.0.1"
    server = await asyncio.start_server(relay.handle, bind, 0)
    edge_port = int(server.sockets[0].getsockname()[1])
    recorded: Path | None = None
    watcher = asyncio.ensure_future(watch_parent(stop))
    try:
        delay = float(env.get(DELAY_ENV) or 0)
        if delay > 0:
            await _stopped_within(stop, delay)
        if mode == "serve" and not stop.is_set():
            host = tunnel_host(env.get(HOST_ENV) or None)
            url = f"https://{host}"
            edge_dir = env.get(EDGE_DIR_ENV)
            if edge_dir:
                recorded = record_edge(
                    Path(edge_dir),
                    {
                        "url": url,
                        "host": host,
                        "edge_port": edge_port,
                        "edge_bind": bind,
                        "origin": f"http://{origin[0]}:{origin[1]}",
                        "argv": sys.argv[1:],
                        "pid": os.getpid(),
                    },
                )
            for line in banner_lines(url):
                log("INF", line)
        log("INF", f"Version {VERSION} (fake: greentic harness; edge {bind}:{edge_port})")
        log(
            "INF",
            "Registered tunnel connection connIndex=0 event=0 ip=127.0.0.1 "
            "location=loopback protocol=quic",
        )
        await stop.wait()
        log("INF", "Initiating graceful shutdown due to signal terminated ...")
        return 0
    finally:
        watcher.cancel()
        server.close()
        if recorded is not None:
            recorded.unlink(missing_ok=True)


async def _stopped_within(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less when `stop` is set first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("--version", "-v", "version"):
        print(f"cloudflared version {VERSION} (fake: greentic harness)", flush=True)
        return 0
    try:
        origin = parse_origin(args)
    except UsageError as exc:
        print(f"Incorrect Usage: {exc}\n{USAGE}", file=sys.stderr, flush=True)
        return 2
    return asyncio.run(serve(origin, dict(os.environ)))


if __name__ == "__main__":
    raise SystemExit(main())
