"""Cold boot: exec of `greentic-start start` → first `/healthz` 200, pulling over loopback HTTP.

Each run starts from an env dir holding only environment.json (as a pod receives it), whose
one routed revision points at the perf-smoke fixture (upstream's is 4 KiB, ours 1.3 KiB)
served by a local HTTP server, so
every boot fetches, digest-gates, materializes, activates and binds. Prints the median (and
min/max) of N runs next to the median of `python -c pass` on the same interpreter.
Usage: python bench/cold_boot.py [--runs N]. Target: median < 0.6 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import http.server
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "bundles"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def author(store_root: Path, uri: str, *, bundle: str = "perf-smoke") -> Path:
    """An env `local` routing 100% to one revision of fixture `bundle` pulled from `uri`."""
    from greentic.spec.base import now_rfc3339
    from greentic.spec.environment import (
        BundleDeployment,
        Environment,
        HostConfig,
        Revision,
        RouteBinding,
        TrafficEntry,
        TrafficSplit,
    )
    from greentic.store import ids
    from greentic.store.envstore import Store
    from greentic.store.layout import pack_list_lock_ref

    digest = json.loads((FIXTURES / "digests.json").read_text())[f"{bundle}.gtbundle"]
    env_id, dep, rev, now = "local", ids.new_ulid(), ids.new_ulid(), now_rfc3339()
    env = Environment(environment_id=env_id, name=env_id, host_config=HostConfig(env_id=env_id))
    env.bundles.append(
        BundleDeployment(
            deployment_id=dep,
            env_id=env_id,
            bundle_id=bundle,
            customer_id="bench",
            created_at=now,
            route_binding=RouteBinding(path_prefixes=["/"]),
        )
    )
    env.revisions.append(
        Revision(
            revision_id=rev,
            env_id=env_id,
            bundle_id=bundle,
            deployment_id=dep,
            sequence=1,
            created_at=now,
            bundle_digest=digest,
            bundle_source_uri=uri,
            pack_list_lock_ref=pack_list_lock_ref(rev),
            lifecycle="ready",
        )
    )
    env.traffic_splits.append(
        TrafficSplit(
            env_id=env_id,
            deployment_id=dep,
            bundle_id=bundle,
            entries=[TrafficEntry(revision_id=rev, weight_bps=10000)],
            updated_at=now,
            idempotency_key="bench",
        )
    )
    store = Store(store_root)
    with store.create(env, verb="bench"):
        pass
    store.paths(env_id).runtime_config.unlink()  # a pod receives environment.json only
    return store.paths(env_id).environment


def serve_fixtures() -> tuple[http.server.ThreadingHTTPServer, int]:
    handler = functools.partial(_QuietHandler, directory=str(FIXTURES))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, int(httpd.server_address[1])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


def healthz_ok(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def one_boot(env_json: bytes, store_root: Path, deadline_s: float = 10.0) -> float:
    """Seconds from exec to the first /healthz 200, from an env dir with environment.json only."""
    env_dir = store_root / "local"
    shutil.rmtree(env_dir, ignore_errors=True)
    env_dir.mkdir(parents=True)
    (env_dir / "environment.json").write_bytes(env_json)
    port = free_port()
    environ = {**os.environ, "PORT": str(port), "GREENTIC_GATEWAY_LISTEN_ADDR": "127.0.0.1"}
    cmd = [str(BIN / "greentic-start"), "start", "--env", "local", "--store-root", str(store_root)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while time.perf_counter() - t0 < deadline_s:
            if healthz_ok(port):
                return time.perf_counter() - t0
            if proc.poll() is not None:
                raise SystemExit(f"worker exited {proc.returncode}: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
            time.sleep(0.002)
        raise SystemExit(f"no /healthz 200 within {deadline_s}s")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def python_pass() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    httpd, http_port = serve_fixtures()
    with tempfile.TemporaryDirectory(prefix="gtc-bench-boot-") as tmp:
        store_root = Path(tmp) / "store"
        env_file = author(store_root, f"http://127.0.0.1:{http_port}/perf-smoke.gtbundle")
        env_json = env_file.read_bytes()
        one_boot(env_json, store_root)  # warm the page cache once
        boots = [one_boot(env_json, store_root) for _ in range(args.runs)]
        passes = [python_pass() for _ in range(args.runs)]
    httpd.shutdown()
    med, base = statistics.median(boots), statistics.median(passes)
    size = (FIXTURES / "perf-smoke.gtbundle").stat().st_size
    lo, hi = min(boots) * 1000, max(boots) * 1000
    print(f"cold boot: exec → first /healthz 200, pull of {size} B over HTTP ({args.runs} runs)")
    print(f"  greentic-start   median {med * 1000:7.1f} ms  (min {lo:.1f}, max {hi:.1f})")
    print(f"  python -c pass   median {base * 1000:7.1f} ms")
    print(f"  target < 600 ms: {'met' if med < 0.6 else 'MISSED'}")
    return 0 if med < 0.6 else 1


if __name__ == "__main__":
    raise SystemExit(main())
