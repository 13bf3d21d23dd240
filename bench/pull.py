"""Benchmark: fetch + digest gate + materialize of a large bundle, from HTTP and from OCI.

    .venv/bin/python bench/pull.py [--sizes 32,256] [--keep]

For each size it builds a bundle (the webchat-bot pack plus a random `assets/payload.bin`),
serves it from `python -m http.server` and from Debian's docker-registry (pushed with
`greentic.fetch.push`), then runs each pull in a FRESH Python process that reports wall time
per phase and its peak RSS (VmHWM from /proc/self/status: unlike ru_maxrss it is not
inherited from the forking parent across exec). `curl -s URL | sha256sum` on the same URL
is the baseline. Streaming means peak RSS stays flat as the bundle grows. Not a test: no
assertions on speed, only a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MIB = 1024 * 1024
REGISTRY = Path("/usr/bin/docker-registry")

CHILD = r"""
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from greentic.fetch import fetch
from greentic.bundle import materialize
from greentic.store.envstore import Store
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
                  "size": got.size, "digest": got.digest, "peak_rss_kib": int(hwm.split()[1])}))
"""

BASELINE = r"""
import json
from greentic.fetch import fetch
from greentic.bundle import materialize
import httpx, tenacity
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"peak_rss_kib": int(hwm.split()[1])}))
"""


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
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(store_root), "bench", rev, uri, str(dest), insecure],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - t0
    result: dict[str, float] = json.loads(out.stdout)
    assert result["digest"] == digest, "pulled digest differs"
    result["wall_s"] = wall
    shutil.rmtree(dest, ignore_errors=True)
    shutil.rmtree(store_root, ignore_errors=True)
    return result


def run_curl(url: str) -> dict[str, float]:
    t0 = time.perf_counter()
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "bash", "-c", f"curl -s {url} | sha256sum"],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - t0
    rss = int(out.stderr.strip().splitlines()[-1])
    return {"wall_s": wall, "peak_rss_kib": rss, "sha": out.stdout.split()[0]}


HEADER = ("size MiB", "source", "wall s", "fetch s", "mat. s", "MiB/s", "peak RSS MiB")


def row(*cells: object) -> str:
    widths = (9, 9, 7, 8, 7, 7, 13)
    return " ".join(
        f"{c:<{w}}" if i == 1 else f"{c:>{w}.2f}" if isinstance(c, float) else f"{c!s:>{w}}"
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )


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


def bench_size(work: Path, size: int, procs: list[subprocess.Popen[bytes]]) -> None:
    from greentic.bundle.digest import sha256_file
    from greentic.fetch import push

    bundle = build_bundle(work, size)
    digest = sha256_file(bundle)
    mib = bundle.stat().st_size / MIB
    port = free_port()
    serve = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    procs.append(
        subprocess.Popen(
            [*serve, "--directory", str(bundle.parent)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    url = f"http://127.0.0.1:{port}/{bundle.name}"
    wait_http(url)
    pulls = [("http", run_pull(work, digest, url))]
    curls = [("curl", run_curl(url))]
    if REGISTRY.exists():
        proc, host = start_registry(work)
        procs.append(proc)
        wait_http(f"http://{host}/v2/")
        pushed = push.push(bundle, f"oci://{host}/bench/big:v1", insecure=True)
        pulls.append(("oci", run_pull(work, digest, f"oci://{host}/bench/big:v1", insecure=host)))
        blob = f"http://{host}/v2/bench/big/blobs/{pushed.bundle_digest}"
        curls.append(("curl-oci", run_curl(blob)))
    for source, r in pulls:
        busy = r["fetch_s"] + r["materialize_s"]
        rss = r["peak_rss_kib"] / 1024
        print(
            row(
                f"{mib:.1f}", source, r["wall_s"], r["fetch_s"], r["materialize_s"], mib / busy, rss
            )
        )
    for source, c in curls:
        assert "sha256:" + str(c["sha"]) == digest, f"{source} saw different bytes"
        print(
            row(
                f"{mib:.1f}",
                source,
                c["wall_s"],
                "",
                "",
                mib / c["wall_s"],
                c["peak_rss_kib"] / 1024,
            )
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="32,256", help="bundle payload sizes in MiB")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    base = subprocess.run(
        [sys.executable, "-c", BASELINE], capture_output=True, text=True, check=True, cwd=ROOT
    )
    rss = json.loads(base.stdout)["peak_rss_kib"] / 1024
    print(f"python baseline (imports of fetch + materialize + httpx): peak RSS {rss:.1f} MiB")
    print(row(*HEADER))
    work_root = Path(tempfile.mkdtemp(prefix="gtc-bench-pull-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            bench_size(work_root / str(size), size, procs)
            for p in procs:
                p.terminate()
                p.wait()
            procs.clear()
            shutil.rmtree(work_root / str(size), ignore_errors=True)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        if not args.keep:
            shutil.rmtree(work_root, ignore_errors=True)
    print("MiB/s = size / (fetch + gate/materialize); wall adds interpreter start and imports.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
