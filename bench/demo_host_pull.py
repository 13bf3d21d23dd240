"""`python demo.py host-pull` wall time, end to end (seeds/001 says ~10 s upstream).

Each run is the real command a newcomer types: author the store with six `gtc op` calls,
serve the bundle, cold-boot the worker, print the three green checks, leave it serving; then
`demo.py host-stop` (not timed). Every run gets its own artifacts dir and state dir. Prints
each run, the median, and where the time went (the phases from steps.log of the last run).
Usage: python bench/demo_host_pull.py [--runs N]. Target: median under 3 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 3.0


def timed_run(env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "demo.py"), "host-pull"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    subprocess.run(
        [sys.executable, str(ROOT / "demo.py"), "host-stop"],
        env=env,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"demo.py host-pull failed:\n{done.stdout}{done.stderr}")
    return elapsed


def baseline() -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gtc-bench-demo-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GREENTIC_", "GTC_"))}
        env |= {"XDG_CACHE_HOME": f"{tmp}/cache", "GTC_ARTIFACTS": f"{tmp}/artifacts"}
        env["NO_COLOR"] = "1"
        env["GTC_DEMO_PORT"] = "0"  # a user's own demo worker may hold 8080
        times = [timed_run(env) for _ in range(args.runs)]
        steps = sorted(Path(tmp, "artifacts").glob("*/steps.log"))
        last_steps = steps[-1].read_text() if steps else ""
    median = statistics.median(times)
    print(f"demo.py host-pull, {args.runs} runs: " + " ".join(f"{t:.2f}s" for t in times))
    verdict = "met" if median < TARGET_S else "MISSED"
    print(f"  median {median:.2f}s (target < {TARGET_S:.0f} s: {verdict})")
    print(f"  python -c pass median {baseline() * 1000:.0f} ms")
    print("  phases of the last run (seconds since the scenario started):")
    for line in last_steps.splitlines():
        print(f"    {line}")


if __name__ == "__main__":
    main()
