"""Soak: mixed valid and hostile traffic against one worker on loopback (issue #12).

Starts `greentic-start start` on the webchat-bot fixture with the default limits and, for a
bounded time, runs side by side: valid chat POSTs; waves of 250 near-cap (950 KB) bodies held
open (more than the default body budget holds); heads that never finish; bodies trickled a
byte at a time; bad JSON, lone surrogates, invalid UTF-8 and JSON nested 1,000 deep;
rebinding/cross-site headers on /workers/invoke and /chat. A prober hits /healthz every
200 ms and a sampler reads VmRSS. At the end the worker gets SIGTERM. Checks: peak RSS under
the budget, every probe answered, every hostile request got its 4xx (or a 503 under pressure,
or the 408/close of a timeout), no 5xx other than 503, no ERROR in the system log, nothing on
stderr. Prints the figures; exit 1 on a failed check.
Usage: python bench/soak.py [--duration 60] [--rss-budget-mib 768] (duration at most 300 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from cold_boot import FIXTURES, author, free_port, healthz_ok  # noqa: E402

BIN = Path(sys.executable).parent
NEAR_CAP = 950 * 1024
REBIND = "rebind.attacker.example"
INVOKE = json.dumps({"tenant": {"tenant_id": "tenant-default"}, "payload": {"text": "x"}})


@dataclass
class Tally:
    """What each kind of client saw: `kind -> Counter(status)`; probe latencies; RSS."""

    seen: dict[str, Counter[str]] = field(default_factory=dict)
    probe_ms: list[float] = field(default_factory=list)
    probe_failures: list[str] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)

    def add(self, kind: str, status: str) -> None:
        self.seen.setdefault(kind, Counter())[status] += 1


# What each kind may answer: its expected status, 503 under pressure, the timeouts' 408, or
# "closed" (the worker hung up: a dropped body, a timed-out silent head).
ALLOWED = {
    "valid": {"200", "503"},
    "near-cap": {"200", "503", "408", "closed"},
    "slow-head": {"408", "closed", "503"},
    "trickle": {"408", "closed", "503"},
    "bad-json": {"400", "503"},
    "surrogate": {"400", "503"},
    "bad-utf8": {"400", "503"},
    "deep-json": {"400", "503"},
    "rebind-invoke": {"403", "503"},
    "rebind-chat": {"405", "503"},
}


def request(port: int, method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_answer(reader: asyncio.StreamReader, timeout: float) -> bytes:
    """The first bytes of the answer, after reading it to the close."""
    head = b""
    with contextlib.suppress(OSError, TimeoutError):
        head = await asyncio.wait_for(reader.read(64), timeout)
        while await asyncio.wait_for(reader.read(65536), timeout):
            pass
    return head


async def exchange(
    port: int, parts: list[tuple[bytes, float]], timeout: float = 60.0
) -> tuple[str, float]:
    """Send `parts` (bytes, then a pause before the next) while reading; stop sending once
    the worker answered. Returns (status or "closed", ms)."""
    t0 = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
    except (OSError, TimeoutError):
        return "connect-failed", 0.0
    answer = asyncio.create_task(read_answer(reader, timeout))
    try:
        for data, pause in parts:
            if answer.done():
                break
            writer.write(data)
            await writer.drain()
            if pause:
                await asyncio.wait([answer], timeout=pause)
    except OSError:
        pass  # the worker answered and closed before we finished sending
    head = await answer
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    match = re.match(rb"HTTP/1\.1 (\d{3})", head)
    return (match.group(1).decode() if match else "closed"), (time.monotonic() - t0) * 1000


async def valid(port: int, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        body = json.dumps({"text": f"hi {random.randrange(10**6)}"}).encode()
        status, _ = await exchange(port, [(request(port, "POST", "/", body, JSON), 0)])
        tally.add("valid", status)


async def near_cap_waves(port: int, tally: Tally, stop: asyncio.Event, wave: int) -> None:
    body = json.dumps({"text": "x" * (NEAR_CAP - 12)}).encode()
    whole = request(port, "POST", "/", body, JSON)
    while not stop.is_set():

        async def one() -> None:
            hold = random.uniform(0.0, 3.0)
            status, _ = await exchange(port, [(whole[:-1], hold), (whole[-1:], 0)])
            tally.add("near-cap", status)

        await asyncio.gather(*(one() for _ in range(wave)))
        await asyncio.sleep(1.0)


async def slow_heads(port: int, tally: Tally, stop: asyncio.Event, count: int) -> None:
    partial = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    while not stop.is_set():
        results = await asyncio.gather(*(exchange(port, [(partial, 0)]) for _ in range(count)))
        for status, _ in results:
            tally.add("slow-head", status)


async def trickles(port: int, tally: Tally, stop: asyncio.Event, count: int) -> None:
    head = request(port, "POST", "/", b"", JSON).replace(
        b"Content-Length: 0", b"Content-Length: 50"
    )
    drips = [(head, 0.0)] + [(b" ", 2.0)] * 40

    while not stop.is_set():
        results = await asyncio.gather(*(exchange(port, drips) for _ in range(count)))
        for status, _ in results:
            tally.add("trickle", status)


JSON = {"Content-Type": "application/json"}
MISTAKES: list[tuple[str, str, str, bytes, dict[str, str]]] = [
    ("bad-json", "POST", "/", b'{"text": tru', JSON),
    ("surrogate", "POST", "/", b'{"text":"\\ud800"}', JSON),
    ("bad-utf8", "POST", "/", b'{"text":"\xed\xa0\x80\xff"}', JSON),
    ("deep-json", "POST", "/", b"[" * 1000 + b"]" * 1000, JSON),
    (
        "rebind-invoke",
        "POST",
        "/workers/invoke",
        INVOKE.encode(),
        {"Origin": f"http://{REBIND}", "Content-Type": "text/plain"},
    ),
    ("rebind-chat", "GET", "/chat", b"", {}),
]


async def mistakes(port: int, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        kind, method, path, body, headers = random.choice(MISTAKES)
        raw = request(port, method, path, body, headers)
        if kind.startswith("rebind"):  # the page's own Host, as a rebinding browser sends it
            raw = raw.replace(f"Host: 127.0.0.1:{port}".encode(), f"Host: {REBIND}".encode())
        status, _ = await exchange(port, [(raw, 0)])
        tally.add(kind, status)


async def prober(port: int, tally: Tally, stop: asyncio.Event) -> None:
    probe = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    while not stop.is_set():
        status, ms = await exchange(port, [(probe, 0)], timeout=5.0)
        if status == "200":
            tally.probe_ms.append(ms)
        else:
            tally.probe_failures.append(f"{status} after {ms:.0f} ms")
        await asyncio.sleep(0.2)


async def sampler(pid: int, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        tally.rss_kib.append(proc_status(pid, "VmRSS"))
        await asyncio.sleep(0.25)


def proc_status(pid: int, name: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{name}:\s+(\d+) kB", text, re.M).group(1))  # type: ignore[union-attr]


async def soak(port: int, pid: int, duration: float, tally: Tally) -> None:
    stop = asyncio.Event()
    tasks = [
        *(asyncio.create_task(valid(port, tally, stop)) for _ in range(8)),
        asyncio.create_task(near_cap_waves(port, tally, stop, wave=250)),
        asyncio.create_task(slow_heads(port, tally, stop, count=100)),
        asyncio.create_task(trickles(port, tally, stop, count=20)),
        *(asyncio.create_task(mistakes(port, tally, stop)) for _ in range(4)),
        asyncio.create_task(prober(port, tally, stop)),
        asyncio.create_task(sampler(pid, tally, stop)),
    ]
    await asyncio.sleep(duration)
    stop.set()
    await asyncio.wait(tasks, timeout=90)  # waits end with the worker's own timeouts
    for task in tasks:
        task.cancel()


def start_worker(store_root: Path, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PORT": str(port), "GREENTIC_GATEWAY_LISTEN_ADDR": "127.0.0.1"}
    proc = subprocess.Popen(
        [str(BIN / "greentic-start"), "start", "--env", "local", "--store-root", str(store_root)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not healthz_ok(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"worker did not come up: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.05)
    return proc


def report(tally: Tally, rss: tuple[int, int, int], errors: list[str], budget: int) -> bool:
    """Print the figures (`rss` = start, peak, after the quiet, KiB); True when all held."""
    base_kib, hwm_kib, quiet_kib = rss
    failures: list[str] = []
    print("soak: worker under mixed valid + hostile traffic on loopback")
    for kind, counts in sorted(tally.seen.items()):
        bad = {s: n for s, n in counts.items() if s not in ALLOWED[kind]}
        print(f"  {kind:14} {sum(counts.values()):6}  {dict(sorted(counts.items()))}")
        if bad:
            failures.append(f"{kind} got {bad}")
    probes = sorted(tally.probe_ms)
    p99 = probes[int(len(probes) * 0.99) - 1] if probes else float("nan")
    print(
        f"  /healthz       {len(probes)} answered, {len(tally.probe_failures)} failed, "
        f"p50 {probes[len(probes) // 2] if probes else float('nan'):.1f} ms, p99 {p99:.1f} ms, "
        f"max {max(probes, default=float('nan')):.1f} ms"
    )
    print(
        f"  RSS            start {base_kib // 1024} MiB, peak (VmHWM) {hwm_kib // 1024} MiB, "
        f"after 6 s quiet {quiet_kib // 1024} MiB; budget {budget} MiB"
    )
    if tally.probe_failures:
        failures.append(f"probes failed: {tally.probe_failures[:5]}")
    if hwm_kib > budget * 1024:
        failures.append(f"peak RSS {hwm_kib // 1024} MiB over the {budget} MiB budget")
    if tally.seen.get("valid", Counter())["200"] == 0:
        failures.append("no valid request was served")
    failures += errors
    for line in failures:
        print(f"  FAILED: {line}")
    print(f"  checks: {'all held' if not failures else f'{len(failures)} failed'}")
    return not failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rss-budget-mib", type=int, default=768)
    args = parser.parse_args()
    duration = min(max(args.duration, 5.0), 300.0)
    with tempfile.TemporaryDirectory(prefix="gtc-bench-soak-") as tmp:
        store_root = Path(tmp) / "store"
        author(store_root, (FIXTURES / "webchat-bot.gtbundle").as_uri(), bundle="webchat-bot")
        port = free_port()
        proc = start_worker(store_root, port)
        try:
            base = proc_status(proc.pid, "VmRSS")
            tally = Tally()
            asyncio.run(soak(port, proc.pid, duration, tally))
            hwm = proc_status(proc.pid, "VmHWM")
            time.sleep(6)  # quiet: the worker trims its heap every 5 s after a burst
            quiet = proc_status(proc.pid, "VmRSS")
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        stderr = proc.stderr.read() if proc.stderr else ""
        log = (store_root / "local" / "logs" / "system.log").read_text()
        errors = [f"worker exited {code}"] if code != 0 else []
        errors += [f"stderr: {line}" for line in stderr.splitlines()[:5]]
        errors += [f"log: {ln[:160]}" for ln in log.splitlines() if " ERROR " in ln][:5]
    return 0 if report(tally, (base, hwm, quiet), errors, args.rss_budget_mib) else 1


if __name__ == "__main__":
    raise SystemExit(main())
