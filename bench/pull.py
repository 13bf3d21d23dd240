"""Benchmark: fetch + digest gate + materialize of a large bundle, from HTTP and from OCI.

    .venv/bin/python bench/pull.py [--sizes 32,256] [--repeat 3] [--quick] [--json] [--keep]

For each size it builds a bundle (the webchat-bot pack plus a random `assets/payload.bin`),
serves it from `python -m http.server` and from Debian's docker-registry (pushed with
`greentic.fetch.push`), then runs each pull in a FRESH Python process that reports the time
of the pull itself (fetch + materialize, without interpreter start and imports) and its peak
RSS (VmHWM from /proc/self/status: unlike ru_maxrss it is not inherited from the forking
parent across exec). Two baselines on the same URL, interleaved with our pulls so that load
on the machine hits all three alike:
  - `curl -s URL | sha256sum` (download and hash only);
  - standard tools doing the same work as a pull: `curl -s URL | tee bundle | sha256sum`,
    `unzip -q bundle -d bundle/`, then `sync` on every file and directory written.
Figures are medians of `--repeat` runs; ratios are ours / baseline speed from the same run.
Not a test: no assertions on speed; a table on stdout, or one JSON document with `--json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MIB = 1024 * 1024
REGISTRY = Path("/usr/bin/docker-registry")
GOALS = {"curl": 0.8, "tools": 0.9}  # issue #16: ours / baseline speed
RSS_HEADROOM_MIB = 16.0  # issue #16: peak RSS within this of the import baseline

# What a pull imports, the network stack included (httpx and httpcore load lazily at the first
# HTTP or OCI fetch, without httpx's command-line tool): imported before the clock starts, as
# the figures exclude imports; bench/cold_boot.py times them. It is also the RSS baseline.
IMPORTS = r"""
from greentic.fetch import fetch
from greentic.fetch._api import skip_httpx_cli
from greentic.bundle import materialize
from greentic.store.envstore import Store
skip_httpx_cli()
import httpcore, httpx
from greentic.fetch import _http, _oci
"""

CHILD = (
    r"""
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
"""
    + IMPORTS
    + r"""
import_s = time.perf_counter() - t0
store_root, env_id, rev, uri, dest, insecure = sys.argv[1:]
t1 = time.perf_counter()
insecure_set = frozenset(filter(None, [insecure]))
got = fetch(uri, Path(dest), insecure_registries=insecure_set, max_bytes=1 << 40)
t2 = time.perf_counter()
done = materialize.materialize_revision(Store(Path(store_root)), env_id, rev, got)
t3 = time.perf_counter()
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"import_s": import_s, "fetch_s": t2 - t1, "materialize_s": t3 - t2,
                  "pull_s": t3 - t1,
                  "size": got.size, "digest": got.digest, "peak_rss_kib": int(hwm.split()[1])}))
"""
)

BASELINE = (
    IMPORTS
    + r"""
import json
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"peak_rss_kib": int(hwm.split()[1])}))
"""
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 20) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.head(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def build_bundle(work: Path, size_mib: int) -> Path:
    from greentic.bundle.build import build_bundle_dir

    src = work / "src"
    shutil.copytree(ROOT / "fixtures" / "bundles" / "src" / "webchat-bot", src)
    (src / "assets").mkdir()
    with open(src / "assets" / "payload.bin", "wb") as fh:
        for _ in range(size_mib):
            fh.write(os.urandom(MIB))
    out = work / "serve" / "big.gtbundle"
    build_bundle_dir(src, out)
    shutil.rmtree(src)
    return out


def new_store(work: Path, digest: str) -> tuple[Path, str]:
    from greentic.spec.base import now_rfc3339
    from greentic.spec.environment import (
        BundleDeployment,
        Environment,
        HostConfig,
        Revision,
        TrafficEntry,
        TrafficSplit,
    )
    from greentic.store import ids
    from greentic.store.envstore import Store

    root = work / "store"
    shutil.rmtree(root, ignore_errors=True)
    dep, rev, now = ids.new_ulid(), ids.new_ulid(), now_rfc3339()
    env = Environment(
        environment_id="bench",
        name="bench",
        host_config=HostConfig(env_id="bench"),
        bundles=[
            BundleDeployment(
                deployment_id=dep,
                env_id="bench",
                bundle_id="webchat-bot",
                customer_id="c",
                created_at=now,
            )
        ],
        revisions=[
            Revision(
                revision_id=rev,
                env_id="bench",
                bundle_id="webchat-bot",
                deployment_id=dep,
                sequence=1,
                created_at=now,
                bundle_digest=digest,
                pack_list_lock_ref=f"revisions/{rev}/pack-list.lock",
            )
        ],
        traffic_splits=[
            TrafficSplit(
                env_id="bench",
                deployment_id=dep,
                bundle_id="webchat-bot",
                updated_at=now,
                entries=[TrafficEntry(revision_id=rev, weight_bps=10_000)],
                idempotency_key="bench",
            )
        ],
    )
    with Store(root).create(env, verb="bench"):
        pass
    return root, rev


def run_pull(work: Path, digest: str, uri: str, insecure: str = "") -> dict[str, float]:
    store_root, rev = new_store(work, digest)
    dest = work / "dl"
    shutil.rmtree(dest, ignore_errors=True)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(store_root), "bench", rev, uri, str(dest), insecure],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result: dict[str, float] = json.loads(out.stdout)
    assert result["digest"] == digest, "pulled digest differs"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.rmtree(store_root, ignore_errors=True)
    return {"s": result["pull_s"], "rss_kib": result["peak_rss_kib"], **result}


CURL = 'set -o pipefail; curl -sf "$1" | sha256sum'
TOOLS = (
    'set -eo pipefail; curl -sf "$1" | tee "$2/bundle.gtbundle" | sha256sum; '
    'unzip -q "$2/bundle.gtbundle" -d "$2/bundle"; find "$2" -exec sync {} +'
)


def run_shell(script: str, url: str, work: Path, digest: str) -> dict[str, float]:
    """Wall time and peak RSS (largest process) of a standard-tools pipeline."""
    out_dir = work / "tools"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir()
    t0 = time.perf_counter()
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "bash", "-c", script, "bench", url, str(out_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - t0
    assert "sha256:" + out.stdout.split()[0] == digest, f"{url}: the baseline saw other bytes"
    shutil.rmtree(out_dir, ignore_errors=True)
    return {"s": wall, "rss_kib": float(out.stderr.strip().splitlines()[-1])}


def start_registry(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    host = f"127.0.0.1:{free_port()}"
    (work / "reg").mkdir()
    config = work / "reg" / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'reg' / 'data'}\n"
        f"http:\n  addr: {host}\n"
    )
    proc = subprocess.Popen(
        [str(REGISTRY), "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return proc, host


def serve(
    work: Path, size: int, procs: list[subprocess.Popen[bytes]]
) -> tuple[str, dict[str, tuple[str, str, str]]]:
    """Build the bundle and serve it; returns its digest and source → (pull uri, insecure
    host, plain blob URL for the baselines)."""
    from greentic.bundle.digest import sha256_file
    from greentic.fetch import push

    bundle = build_bundle(work, size)
    digest = sha256_file(bundle)
    port = free_port()
    serve_cmd = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    procs.append(
        subprocess.Popen(
            [*serve_cmd, "--directory", str(bundle.parent)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    url = f"http://127.0.0.1:{port}/{bundle.name}"
    wait_http(url)
    sources = {"http": (url, "", url)}
    if REGISTRY.exists():
        proc, host = start_registry(work)
        procs.append(proc)
        wait_http(f"http://{host}/v2/")
        pushed = push.push(bundle, f"oci://{host}/bench/big:v1", insecure=True)
        blob = f"http://{host}/v2/bench/big/blobs/{pushed.bundle_digest}"
        sources["oci"] = (f"oci://{host}/bench/big:v1", host, blob)
    return digest, sources


def summary(samples: list[dict[str, float]], mib: float) -> dict[str, float]:
    median = statistics.median(s["s"] for s in samples)
    out = {
        "median_s": median,
        "mib_s": mib / median,
        "peak_rss_mib": max(s["rss_kib"] for s in samples) / 1024,
    }
    for phase in ("fetch_s", "materialize_s"):
        if phase in samples[0]:
            out[phase] = statistics.median(s[phase] for s in samples)
    return out


def bench_size(work: Path, size: int, repeat: int) -> list[dict[str, object]]:
    """Rows (size, source, tool, medians) for one bundle size; runs interleaved per repeat."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        digest, sources = serve(work, size, procs)
        mib = (work / "serve" / "big.gtbundle").stat().st_size / MIB
        samples: dict[tuple[str, str], list[dict[str, float]]] = {}
        for _ in range(repeat):
            for source, (uri, insecure, url) in sources.items():
                runs = {
                    "greentic": lambda u=uri, i=insecure: run_pull(work, digest, u, i),
                    "curl": lambda u=url: run_shell(CURL, u, work, digest),
                    "tools": lambda u=url: run_shell(TOOLS, u, work, digest),
                }
                for tool, run in runs.items():
                    samples.setdefault((source, tool), []).append(run())
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    return [
        {"size_mib": round(mib, 1), "source": source, "tool": tool, **summary(runs, mib)}
        for (source, tool), runs in samples.items()
    ]


def figures(rows: list[dict[str, object]], import_rss: float) -> list[dict[str, object]]:
    """Ours against each baseline of the same size and source: the ratios the goals name."""
    out: list[dict[str, object]] = []
    index = {(r["size_mib"], r["source"], r["tool"]): r for r in rows}
    for (size, source, tool), ours in index.items():
        if tool != "greentic":
            continue
        for base in ("curl", "tools"):
            other = index[(size, source, base)]
            out.append(
                {
                    "name": f"pull {size} MiB over {source}",
                    "value": ours["mib_s"],
                    "unit": "MiB/s",
                    "baseline": "curl | sha256sum"
                    if base == "curl"
                    else "curl|tee|sha256sum + unzip + sync",
                    "baseline_value": other["mib_s"],
                    "ratio": float(ours["mib_s"]) / float(other["mib_s"]),  # type: ignore[arg-type]
                    "goal": f">= {GOALS[base]}",
                    "met": float(ours["mib_s"]) / float(other["mib_s"]) >= GOALS[base],  # type: ignore[arg-type]
                }
            )
        rss = float(ours["peak_rss_mib"])  # type: ignore[arg-type]
        out.append(
            {
                "name": f"pull {size} MiB over {source}: peak RSS",
                "value": rss,
                "unit": "MiB",
                "baseline": "import baseline",
                "baseline_value": import_rss,
                "ratio": rss / import_rss,
                "goal": f"<= baseline + {RSS_HEADROOM_MIB:.0f} MiB",
                "met": rss <= import_rss + RSS_HEADROOM_MIB,
            }
        )
    return out


HEADER = ("size MiB", "source", "tool", "median s", "fetch s", "mat. s", "MiB/s", "RSS MiB")


def row(*cells: object) -> str:
    widths = (9, 7, 9, 9, 8, 7, 8, 8)
    return " ".join(
        f"{c:<{w}}" if i in (1, 2) else f"{c:>{w}.2f}" if isinstance(c, float) else f"{c!s:>{w}}"
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


def print_table(doc: dict[str, object]) -> None:
    print(
        f"python baseline (what a pull imports: fetch, materialize, httpx, httpcore): peak RSS "
        f"{doc['import_rss_mib']:.1f} MiB; medians of {doc['repeat']} runs"
    )
    print(row(*HEADER))
    for r in doc["rows"]:  # type: ignore[attr-defined]
        print(
            row(
                r["size_mib"],
                r["source"],
                r["tool"],
                r["median_s"],
                r.get("fetch_s", ""),
                r.get("materialize_s", ""),
                r["mib_s"],
                r["peak_rss_mib"],
            )
        )
    for f in doc["figures"]:  # type: ignore[attr-defined]
        print(
            f"{f['name']}: {f['value']:.1f} {f['unit']} vs {f['baseline']} "
            f"{f['baseline_value']:.1f}: ratio {f['ratio']:.2f} (goal {f['goal']})"
        )
    print(
        "greentic s = fetch + gate/materialize inside the process (no interpreter start); "
        "baselines are the wall time of the pipeline."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="32,256", help="bundle payload sizes in MiB")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--quick", action="store_true", help="sizes 8,32 and one run each")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    sizes = [8, 32] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeat = 1 if args.quick else max(1, args.repeat)
    base = subprocess.run(
        [sys.executable, "-c", BASELINE], capture_output=True, text=True, check=True, cwd=ROOT
    )
    import_rss = json.loads(base.stdout)["peak_rss_kib"] / 1024
    work_root = Path(tempfile.mkdtemp(prefix="gtc-bench-pull-"))
    rows: list[dict[str, object]] = []
    try:
        for size in sizes:
            rows += bench_size(work_root / str(size), size, repeat)
            if not args.keep:
                shutil.rmtree(work_root / str(size), ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(work_root, ignore_errors=True)
    doc = {
        "bench": "pull",
        "title": "Pull: fetch + digest gate + materialize",
        "repeat": repeat,
        "import_rss_mib": import_rss,
        "rows": rows,
        "figures": figures(rows, import_rss),
    }
    if args.json:
        print(json.dumps(doc))
    else:
        print_table(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
