"""CLI start-up cost: `gtc op env show local` against a prepared store vs `python -c pass`.

Prepares a store with `local` (env init + one URI-only deploy) in a temp dir, then runs each
command ROUNDS times as a fresh process and prints the medians and their ratio. Also times
`gtc --help`, which must stay free of pydantic. Run: `.venv/bin/python bench/cli_startup.py`.
greentic's bytecode is compiled first, as an installed wheel has it (bench/support/bytecode.py).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support.bytecode import NOTE, compile_greentic

ROUNDS = int(os.environ.get("ROUNDS", "25"))
BIN = Path(sys.executable).parent
GTC = BIN / "gtc"
DIGEST = "sha256:" + "0" * 64


def run(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def median_ms(cmd: list[str], env: dict[str, str]) -> float:
    run(cmd, env)  # warm the page cache / .pyc files
    return statistics.median(run(cmd, env) for _ in range(ROUNDS)) * 1000


def figures(base: float, show: float, helps: float) -> dict[str, object]:
    def fig(name: str, value: float, goal: str, met: bool | None) -> dict[str, object]:
        return {
            "name": f"{name} (median of {ROUNDS}; {NOTE})",
            "value": value,
            "unit": "ms",
            "baseline": "python -c pass",
            "baseline_value": base,
            "ratio": value / base,
            "goal": goal,
            "met": met,
        }

    return {
        "bench": "cli_startup",
        "title": "CLI start-up",
        "figures": [
            fig("gtc op env show local", show, "<= 4x python -c pass", show <= 4 * base),
            fig("gtc --help", helps, "", None),
        ],
    }


def main() -> None:
    compile_greentic()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        env = {**os.environ, "GTC_OPERATOR_KEY_PATH": str(Path(tmp) / "key.pem")}
        op = [str(GTC), "op", "--store-root", str(store)]
        subprocess.run([*op, "env", "init"], env=env, check=True, capture_output=True)
        subprocess.run(
            [
                *op,
                "deploy",
                "bundle_id=app",
                "bundle_source_uri=oci://127.0.0.1:5000/a/b:v1",
                f"bundle_digest={DIGEST}",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        base = median_ms([sys.executable, "-c", "pass"], env)
        show = median_ms([*op, "env", "show", "local"], env)
        helps = median_ms([str(GTC), "--help"], env)
    if "--json" in sys.argv[1:]:  # for bench/report.py (issue #16 goal: show <= 4x)
        print(json.dumps(figures(base, show, helps)))
        return
    print(f"rounds: {ROUNDS} ({NOTE})")
    print(f"python -c pass            median {base:7.1f} ms")
    print(f"gtc --help                median {helps:7.1f} ms  ({helps / base:.1f}x)")
    print(f"gtc op env show local     median {show:7.1f} ms  ({show / base:.1f}x)")
    print(f"ratio env show / python -c pass: {show / base:.2f}")


if __name__ == "__main__":
    main()
