"""Request throughput of the worker (POST / on webchat-bot, GET /healthz) vs bare uvicorn.

Starts `greentic-start start` on the webchat-bot fixture and, in the same run, a hello-world
ASGI app on the same uvicorn settings (h11, asyncio, no access log); drives each with `wrk`
(Debian package) on loopback for a bounded duration and prints req/s, p99 latency and the
ratio worker / hello-world. Usage: python bench/throughput.py [--duration 5] [--connections
16] [--threads 2] [--rounds 3] (figures are medians of interleaved rounds). Target ratio ≥ 0.5;
goal (#16) POST / ≥ 0.8 × hello-world POST.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from cold_boot import FIXTURES, author, free_port, healthz_ok  # noqa: E402

BIN = Path(sys.executable).parent
HELLO_APP = textwrap.dedent(
    """
    import sys, uvicorn

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")]})
        await send({"type": "http.response.body", "body": b"Hello, world!"})

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), http="h11", loop="asyncio",
                lifespan="off", access_log=False, log_level="warning", ws="none")
    """
)
POST_LUA = textwrap.dedent(
    """
    wrk.method = "POST"
    wrk.body = '{"text":"hi"}'
    wrk.headers["Content-Type"] = "application/json"
    """
)


@dataclass(frozen=True)
class Result:
    """One wrk run."""

    label: str
    rps: float
    p99_ms: float
    errors: int


def to_ms(text: str) -> float:
    value, unit = float(text[:-2] if text.endswith(("us", "ms")) else text[:-1]), text[-2:]
    if unit == "us":
        return value / 1000
    if unit == "ms":
        return value
    return value * 1000  # seconds


def wrk(label: str, url: str, args: argparse.Namespace, script: Path | None = None) -> Result:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors:.*", out)
    errors = int(bad.group(1)) if bad else 0
    if sock:
        errors += sum(int(n) for n in re.findall(r"\d+", sock.group(0)))
    return Result(label, rps, p99, errors)


def median_of(runs: list[Result]) -> Result:
    """One figure per label from interleaved rounds: on a shared 2-core machine a single
    5 s run swings by 15 %, and interleaving exposes server and baseline to the same load."""
    return Result(
        runs[0].label,
        statistics.median(r.rps for r in runs),
        statistics.median(r.p99_ms for r in runs),
        sum(r.errors for r in runs),
    )


def wait_healthy(port: int, path_ok: str = "/healthz", deadline: float = 20.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline:
        if path_ok == "/healthz" and healthz_ok(port):
            return
        if path_ok == "/":
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                pass
        time.sleep(0.02)
    raise SystemExit(f"server on port {port} did not come up")


def figures(results: list[Result], args: argparse.Namespace) -> dict[str, object]:
    """The figures for bench/report.py (issue #16 goal: POST / >= 0.8x hello-world POST)."""
    hello = {"GET": results[0], "POST": results[1]}
    out: list[dict[str, object]] = []
    for r in results[2:]:
        method = "POST" if "POST" in r.label else "GET"
        base = hello[method]
        out.append(
            {
                "name": f"{r.label}: req/s (p99 {r.p99_ms:.2f} ms, {r.errors} errors)",
                "value": r.rps,
                "unit": "req/s",
                "baseline": f"{base.label} (p99 {base.p99_ms:.2f} ms)",
                "baseline_value": base.rps,
                "ratio": r.rps / base.rps,
                "goal": ">= 0.8" if method == "POST" else "",
                "met": r.rps / base.rps >= 0.8 if method == "POST" else None,
            }
        )
    return {
        "bench": "throughput",
        "title": f"Request throughput (wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s, loopback)",
        "figures": out,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; figures are medians"
    )
    parser.add_argument("--json", action="store_true", help="one JSON document (bench/report.py)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: sudo apt-get install wrk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="gtc-bench-rps-") as tmp:
        store_root = Path(tmp) / "store"
        author(
            store_root,
            (FIXTURES / "webchat-bot.gtbundle").as_uri(),
            bundle="webchat-bot",
        )
        script = Path(tmp) / "post.lua"
        script.write_text(POST_LUA)
        worker_port, hello_port = free_port(), free_port()
        environ = {
            **os.environ,
            "PORT": str(worker_port),
            "GREENTIC_GATEWAY_LISTEN_ADDR": "127.0.0.1",
        }
        worker = subprocess.Popen(
            [
                str(BIN / "greentic-start"),
                "start",
                "--env",
                "local",
                "--store-root",
                str(store_root),
            ],
            env=environ,
            stdout=subprocess.DEVNULL,
        )
        hello = subprocess.Popen([sys.executable, "-c", HELLO_APP, str(hello_port)])
        try:
            wait_healthy(worker_port)
            wait_healthy(hello_port, "/")
            base = f"http://127.0.0.1:{worker_port}"
            hello_url = f"http://127.0.0.1:{hello_port}/"
            rounds = [
                [
                    wrk("uvicorn hello-world GET /", hello_url, args),
                    wrk("uvicorn hello-world POST /", hello_url, args, script),
                    wrk("worker GET /healthz", f"{base}/healthz", args),
                    wrk("worker POST / (webchat-bot)", f"{base}/", args, script),
                ]
                for _ in range(args.rounds)
            ]
            results = [median_of(list(runs)) for runs in zip(*rounds, strict=True)]
        finally:
            for proc in (worker, hello):
                proc.terminate()
                proc.wait(timeout=20)
    hello_get, hello_post = results[0].rps, results[1].rps
    if args.json:
        print(json.dumps(figures(results, args)))
    print(
        f"throughput: wrk -t{args.threads} -c{args.connections} -d{args.duration}s on loopback "
        f"({os.cpu_count()} CPUs); ratio = req/s ÷ hello-world GET (same-method ratio after /)"
    )
    ok = True
    for r in results:
        same = hello_post if "POST" in r.label else hello_get
        ratio = r.rps / hello_get
        errs = f"  ERRORS {r.errors}" if r.errors else ""
        print(
            f"  {r.label:<30} {r.rps:9.0f} req/s  p99 {r.p99_ms:7.2f} ms  "
            f"ratio {ratio:4.2f} / {r.rps / same:4.2f}{errs}"
        )
        if r.label.startswith("worker"):
            ok = ok and r.errors == 0 and ratio >= 0.5
    verdict = "met" if ok else "MISSED"
    print(f"  target ratio ≥ 0.5 (vs hello-world GET) for both worker endpoints: {verdict}")
    post = results[3].rps / hello_post
    goal = "met" if post >= 0.8 else "not met"
    print(f"  goal (#16) POST / ≥ 0.8 × hello-world POST: {post:.2f}, {goal}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
