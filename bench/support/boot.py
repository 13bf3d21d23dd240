"""What the worker boot benches share: author an env, serve the fixtures, time a cold boot.

A cold boot starts from an env dir holding only the files a pod receives (environment.json,
and the dev-store when Telegram is served), so every boot fetches, digest-gates, materializes,
activates and binds. `Worker` is `greentic-start start` with its stdout lines timestamped from
the exec. Used by bench/cold_boot.py (and, through it, bench/throughput.py) and bench/tunnel.py;
it lives in a sub-package so `make bench` (bench/*.py) does not run it as a bench.
"""

from __future__ import annotations

import functools
import http.client
import http.server
import json
import os
import queue
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.closing import StopOnExit
from harness.process import stop_gracefully

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "bundles"
BIN = Path(sys.executable).parent
ENV_ID = "local"
POLL_S = 0.002  # between /healthz attempts: fine enough for a boot of a few hundred ms
STOP_WAIT_S = 10.0


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
    env_id, dep, rev, now = ENV_ID, ids.new_ulid(), ids.new_ulid(), now_rfc3339()
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


def env_files(store_root: Path, *rels: str) -> dict[str, bytes]:
    """The authored env's files a boot starts from (paths relative to the env dir)."""
    env_dir = store_root / ENV_ID
    return {rel: (env_dir / rel).read_bytes() for rel in ("environment.json", *rels)}


def seed_env_dir(store_root: Path, files: Mapping[str, bytes]) -> None:
    """A fresh env dir holding exactly `files`: nothing pulled, nothing left by the last boot."""
    env_dir = store_root / ENV_ID
    shutil.rmtree(env_dir, ignore_errors=True)
    for rel, data in files.items():
        (env_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (env_dir / rel).write_bytes(data)


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


class Worker(StopOnExit):
    """`greentic-start start --env local` on `port`, timed from the exec; stops on exit.

    Example:
        with Worker(store_root, port) as worker:
            seconds = worker.healthz(port)
    """

    def __init__(
        self,
        store_root: Path,
        port: int,
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        environ = {
            **os.environ,
            "PORT": str(port),
            "GREENTIC_GATEWAY_LISTEN_ADDR": "127.0.0.1",
            **(env or {}),
        }
        cmd = [str(BIN / "greentic-start"), "start", "--env", ENV_ID]
        cmd += ["--store-root", str(store_root), *args]
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self._lines: queue.Queue[tuple[float, str] | None] = queue.Queue()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, env=environ, stdout=subprocess.PIPE, stderr=self._err)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self._lines.put((time.perf_counter() - self.started, raw.decode("utf-8", "replace")))
        self._lines.put(None)

    def died(self, waiting_for: str) -> SystemExit:
        """The bench's one failure: the worker exited (or stalled) before `waiting_for`."""
        self._err.seek(0)
        err = self._err.read().decode("utf-8", "replace").strip()
        code = self.proc.poll()
        state = "is still running" if code is None else f"exited {code}"
        return SystemExit(f"greentic-start {state} before {waiting_for}; stderr:\n{err}")

    def line(self, pattern: str, deadline_s: float) -> tuple[float, re.Match[str]]:
        """Seconds from exec to the next stdout line matching `pattern`, and its match."""
        while True:
            left = deadline_s - (time.perf_counter() - self.started)
            try:
                item = self._lines.get(timeout=max(0.0, left))
            except queue.Empty:
                what = f"a stdout line matching {pattern!r} within {deadline_s}s"
                raise self.died(what) from None
            if item is None:
                raise self.died(f"a stdout line matching {pattern!r}")
            match = re.search(pattern, item[1])
            if match:
                return item[0], match

    def healthz(self, port: int, deadline_s: float) -> float:
        """Seconds from exec to the first `/healthz` 200 on `port`."""
        while time.perf_counter() - self.started < deadline_s:
            if healthz_ok(port):
                return time.perf_counter() - self.started
            if self.proc.poll() is not None:
                raise self.died(f"/healthz 200 on port {port}")
            time.sleep(POLL_S)
        raise self.died(f"/healthz 200 on port {port} within {deadline_s}s")

    def stop(self) -> None:
        """SIGTERM (the worker stops its tunnel itself), SIGKILL if it lingers."""
        stop_gracefully(self.proc, STOP_WAIT_S)
        self._err.close()


def plain_boot(
    store_root: Path,
    files: Mapping[str, bytes],
    *,
    env: Mapping[str, str] | None = None,
    deadline_s: float = 10.0,
) -> float:
    """Seconds from exec to the first /healthz 200, from an env dir holding only `files`."""
    seed_env_dir(store_root, files)
    port = free_port()
    with Worker(store_root, port, env=env) as worker:
        return worker.healthz(port, deadline_s)


def python_pass() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t0


def spread(samples: Sequence[float]) -> str:
    """`median M ms  (min A, max B)` of samples in seconds."""
    med, lo, hi = (x * 1000 for x in (statistics.median(samples), min(samples), max(samples)))
    return f"median {med:7.1f} ms  (min {lo:.1f}, max {hi:.1f})"
