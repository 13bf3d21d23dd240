"""Cold boot: exec of `greentic-start start` → first `/healthz` 200, pulling over loopback HTTP.

Each run starts from an env dir holding only environment.json (as a pod receives it), whose
one routed revision points at the perf-smoke fixture (upstream's is 4 KiB, ours 1.3 KiB)
served by a local HTTP server, so
every boot fetches, digest-gates, materializes, activates and binds. Prints the median (and
min/max) of N runs next to the median of `python -c pass` on the same interpreter.
Usage: python bench/cold_boot.py [--runs N]. Target: median < 0.6 s on a 2-core machine.
greentic's bytecode is compiled first, as an installed wheel has it (bench/support/bytecode.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support.boot import (
    FIXTURES,
    author,
    env_files,
    free_port,
    healthz_ok,
    plain_boot,
    python_pass,
    serve_fixtures,
    spread,
)
from bench.support.bytecode import NOTE, compile_greentic

__all__ = ["FIXTURES", "author", "free_port", "healthz_ok"]  # what bench/throughput.py imports


def figures(med: float, base: float, size: int, runs: int) -> dict[str, object]:
    """The figures for bench/report.py (issue #16 goal: median <= 250 ms)."""
    return {
        "bench": "cold_boot",
        "title": "Cold boot: exec to first /healthz 200, one revision pulled",
        "figures": [
            {
                "name": f"cold boot, pull of {size} B over HTTP (median of {runs}; {NOTE})",
                "value": med * 1000,
                "unit": "ms",
                "baseline": "python -c pass",
                "baseline_value": base * 1000,
                "ratio": med / base,
                "goal": "<= 250 ms",
                "met": med <= 0.25,
            }
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="one JSON document (bench/report.py)")
    args = parser.parse_args()
    compile_greentic()
    httpd, http_port = serve_fixtures()
    with tempfile.TemporaryDirectory(prefix="gtc-bench-boot-") as tmp:
        store_root = Path(tmp) / "store"
        author(store_root, f"http://127.0.0.1:{http_port}/perf-smoke.gtbundle")
        files = env_files(store_root)
        plain_boot(store_root, files)  # warm the page cache once
        boots = [plain_boot(store_root, files) for _ in range(args.runs)]
        passes = [python_pass() for _ in range(args.runs)]
    httpd.shutdown()
    med, base = statistics.median(boots), statistics.median(passes)
    size = (FIXTURES / "perf-smoke.gtbundle").stat().st_size
    if args.json:
        print(json.dumps(figures(med, base, size, args.runs)))
        return 0 if med < 0.6 else 1
    print(f"cold boot: exec → first /healthz 200, pull of {size} B over HTTP ({args.runs} runs)")
    print(f"  greentic-start   {spread(boots)}")
    print(f"  python -c pass   median {base * 1000:7.1f} ms")
    print(f"  ({NOTE})")
    print(f"  target < 600 ms: {'met' if med < 0.6 else 'MISSED'}")
    return 0 if med < 0.6 else 1


if __name__ == "__main__":
    raise SystemExit(main())
