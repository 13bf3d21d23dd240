"""The pod-network probe's shell text, run by THIS machine's busybox (issue #14, defect 1).

Debian bookworm's busybox-static 1.35 is built without wget's timeout feature: `wget -T 3`
segfaults (exit 139), so a probe written that way reported "pod network broken" on every Debian
host. Here the probe's exact script runs under busybox `sh` with busybox's own applets on PATH
against a busybox httpd on loopback — the same binaries a busybox pod image carries.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import k8s_fixtures as fx

BUSYBOX = shutil.which("busybox")
pytestmark = pytest.mark.skipif(BUSYBOX is None, reason="busybox is not installed here")
APPLETS = ("sh", "timeout", "wget", "sleep", "httpd", "nc", "echo", "cat")


@pytest.fixture
def applets(tmp_path: Path) -> Path:
    """A PATH holding only busybox applets (so no coreutils `timeout` or GNU wget stands in)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in APPLETS:
        (bin_dir / name).symlink_to(str(BUSYBOX))
    return bin_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def httpd(tmp_path: Path, applets: Path) -> Iterator[str]:
    """busybox httpd serving `ok` on 127.0.0.1, as the probe's server pod does."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("ok\n")
    port = free_port()
    proc = subprocess.Popen(
        [str(applets / "httpd"), "-f", "-p", f"127.0.0.1:{port}", "-h", str(www)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def run(script: str, applets: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(applets / "sh"), "-c", script],
        env={"PATH": str(applets)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_probe_reads_the_page_with_this_machines_busybox(httpd: str, applets: Path) -> None:
    done = run(fx.fetch_script(httpd, attempts=2, pause_s=0), applets)
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


def test_the_probe_gives_up_with_exit_1_not_a_crash(applets: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/"  # nothing listens: refused
    done = run(fx.fetch_script(url, attempts=2, pause_s=0), applets)
    assert done.returncode == 1, done.stderr


def test_a_silent_server_is_cut_off_by_the_per_try_timeout(applets: Path) -> None:
    """A peer that accepts and never answers: each try ends after PROBE_TRY_S, not never."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        started = time.monotonic()
        done = run(fx.fetch_script(url, attempts=1, pause_s=0), applets)
        elapsed = time.monotonic() - started
    assert done.returncode == 1
    assert elapsed < fx.PROBE_TRY_S + 5


def test_the_probe_pod_runs_exactly_this_script() -> None:
    *_, client = fx.connectivity_probe("gtc-preflight-x", attempts=4)
    url = f"http://{fx.service_host(fx.PROBE_SERVER, 'gtc-preflight-x')}:8080/"
    assert client["spec"]["containers"][0]["command"] == [
        "sh",
        "-c",
        fx.fetch_script(url, attempts=4),
    ]
