"""Request throughput of the worker (POST / on webchat-bot, GET /healthz) vs bare uvicorn.

Starts `greentic-start start` on the webchat-bot fixture and, in the same run, reference ASGI
apps on uvicorn with no access log: a hello-world on bare uvicorn's defaults (h11, asyncio:
what `pip install uvicorn` serves; the #16 goal's baseline), the same hello-world on httptools
(the worker's parser: how much of a request the worker's own code costs), and a JSON echo on
httptools (the floor: the least any JSON app does per request). Drives each with `wrk`
(Debian package) on loopback for a bounded duration and prints req/s, p99 latency and each
ratio to its baseline. Usage: python bench/throughput.py [--duration 5] [--connections 16]
[--threads 2] [--rounds 3] (figures are medians of interleaved rounds). Target ratio ≥ 0.5;
goal (#16) POST / ≥ 0.8 × bare uvicorn hello-world POST.
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

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), http=sys.argv[2], loop="asyncio",
                lifespan="off", access_log=False, log_level="warning", ws="none")
    """
)
# The floor any JSON-over-HTTP app reaches on a server: read the body, decode it, encode a
# reply of the worker's shape (stdlib json, no routing, no flow). The worker does all of this
# and more per request.
ECHO_APP = textwrap.dedent(
    """
    import json, sys, uvicorn

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        message = await receive()
        doc = json.loads(message.get("body", b"") or b"null")
        text = doc.get("text", "") if isinstance(doc, dict) else ""
        reply = [{"kind": "response", "tenant": "t", "payload": {"text": "You said: " + text}}]
        body = json.dumps(reply, separators=(",", ":")).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), http=sys.argv[2], loop="asyncio",
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


@dataclass(frozen=True)
class Run:
    """One wrk target: what it is, where, with which script, and what it is measured against."""

    label: str
    url: str
    post: bool
    baselines: tuple[str, ...] = ()  # labels of the runs it is a ratio of; the goal is the first's
    goal: float | None = None


def runs(worker: str, bare: str, same: str, echo: str) -> list[Run]:
    """The targets, baselines first (a baseline is measured in the same rounds)."""
    bare_get, bare_post = "bare uvicorn hello-world GET /", "bare uvicorn hello-world POST /"
    same_post = "uvicorn hello-world POST / on httptools"
    return [
        Run(bare_get, bare, post=False),
        Run(bare_post, bare, post=True),
        Run(same_post, same, post=True, baselines=(bare_post,)),
        Run("JSON echo POST / on httptools (floor)", echo, post=True, baselines=(same_post,)),
        Run("worker GET /healthz", f"{worker}/healthz", post=False, baselines=(bare_get,)),
        Run(
            "worker POST / (webchat-bot)",
            f"{worker}/",
            post=True,
            baselines=(bare_post, same_post),
            goal=0.8,
        ),
    ]


def figures(
    results: dict[str, Result], targets: list[Run], args: argparse.Namespace
) -> dict[str, object]:
    """The figures for bench/report.py (issue #16 goal: POST / >= 0.8x bare hello-world POST)."""
    out: list[dict[str, object]] = []
    for run in targets:
        r = results[run.label]
        for n, label in enumerate(run.baselines):
            base, goal = results[label], run.goal if n == 0 else None
            ratio = r.rps / base.rps
            out.append(
                {
                    "name": f"{run.label}: req/s (p99 {r.p99_ms:.2f} ms, {r.errors} errors)",
                    "value": r.rps,
                    "unit": "req/s",
                    "baseline": f"{base.label} (p99 {base.p99_ms:.2f} ms)",
                    "baseline_value": base.rps,
                    "ratio": ratio,
                    "goal": f">= {goal}" if goal is not None else "",
                    "met": ratio >= goal if goal is not None else None,
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
        worker_port = free_port()
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
        ports = {name: free_port() for name in ("bare", "same", "echo")}
        apps = [
            subprocess.Popen([sys.executable, "-c", code, str(ports[name]), http])
            for name, code, http in (
                ("bare", HELLO_APP, "h11"),
                ("same", HELLO_APP, "httptools"),
                ("echo", ECHO_APP, "httptools"),
            )
        ]
        try:
            wait_healthy(worker_port)
            for port in ports.values():
                wait_healthy(port, "/")
            targets = runs(
                f"http://127.0.0.1:{worker_port}",
                *(f"http://127.0.0.1:{ports[name]}/" for name in ("bare", "same", "echo")),
            )
            rounds = [
                [wrk(t.label, t.url, args, script if t.post else None) for t in targets]
                for _ in range(args.rounds)
            ]
            results = {
                r.label: r for r in (median_of(list(rs)) for rs in zip(*rounds, strict=True))
            }
        finally:
            for proc in (worker, *apps):
                proc.terminate()
                proc.wait(timeout=20)
    if args.json:
        print(json.dumps(figures(results, targets, args)))
    print(
        f"throughput: wrk -t{args.threads} -c{args.connections} -d{args.duration}s on loopback "
        f"({os.cpu_count()} CPUs); ratio = req/s ÷ the baseline's req/s"
    )
    ok = True
    for t in targets:
        r = results[t.label]
        ratios = [r.rps / results[b].rps for b in t.baselines]
        shown = "; ".join(f"÷ {b}: {x:4.2f}" for b, x in zip(t.baselines, ratios, strict=True))
        errs = f"  ERRORS {r.errors}" if r.errors else ""
        print(f"  {t.label:<40} {r.rps:9.0f} req/s  p99 {r.p99_ms:7.2f} ms  {shown}{errs}")
        if t.label.startswith("worker"):
            ok = ok and r.errors == 0 and ratios[0] >= 0.5
        if t.goal is not None:
            verdict = "met" if ratios[0] >= t.goal else "not met"
            print(
                f"  goal (#16) {t.label} ≥ {t.goal} × {t.baselines[0]}: {ratios[0]:.2f}, {verdict}"
            )
    print(f"  target ratio ≥ 0.5 for the worker's endpoints: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
