"""The fake cloudflared: quick-tunnel banner, edge registry, relay, failure modes, lifetime."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.fakes import cloudflared as fake
from harness.fakes import edges
from harness.fakes.origin import RecordingOrigin
from harness.ports import free_port
from harness.process import RUN_ID_ENV, ManagedProcess, pid_alive
from harness.waits import ProcessExited

FIRST_TUNNEL_URL = edges.QUICK_TUNNEL_URL


@pytest.fixture
def origin() -> Iterator[RecordingOrigin]:
    with RecordingOrigin() as server:
        yield server


def tunnel(tmp_path: Path, port: int, *, name: str = "cloudflared", **knobs: str) -> ManagedProcess:
    binary = edges.install_cloudflared(tmp_path / "bin")
    env = {fake.EDGE_DIR_ENV: str(tmp_path / "edges"), RUN_ID_ENV: "t-" + tmp_path.name}
    env.update(knobs)
    argv = [str(binary), "tunnel", "--url", f"http://127.0.0.1:{port}", "--no-autoupdate"]
    return ManagedProcess(argv, env=env, logs_dir=tmp_path / "logs", name=name)


def test_prints_a_quick_tunnel_url_on_stderr_and_relays_to_the_origin(
    tmp_path: Path, origin: RecordingOrigin
) -> None:
    with tunnel(tmp_path, origin.port) as proc:
        url = proc.wait_for(FIRST_TUNNEL_URL.pattern, 10, stream="stderr").group(0)
        assert proc.stdout() == ""  # like the real one: the banner is on stderr
        # a scanner taking the first https:// would pick the docs link: it comes first
        assert proc.stderr().index("https://developers.cloudflare.com") < proc.stderr().index(url)
        assert re.search(r"\|\s+" + re.escape(url) + r"\s+\|", proc.stderr())
        registry = edges.EdgeRegistry(tmp_path / "edges")
        edge = registry.wait(url)
        assert edge.url == url and edge.pid == proc.pid
        assert edge.origin == f"http://127.0.0.1:{origin.port}"
        assert edge.argv == ("tunnel", "--url", edge.origin, "--no-autoupdate")
        response = edge.request("POST", "/webhook/telegram?x=1", json={"a": 1})
        assert response.status_code == 200 and response.json() == {"echo": True}
        [seen] = origin.seen
        assert (seen.method, seen.path) == ("POST", "/webhook/telegram?x=1")
        assert seen.peer == "127.0.0.1"  # tunneled traffic arrives from loopback
        assert seen.headers["Host"] == edge.host
        assert json.loads(seen.body) == {"a": 1}
        assert proc.stop() == 0  # SIGTERM: a clean exit
    assert registry.edges() == []  # and its edge is gone


def test_each_run_gets_its_own_url_unless_pinned(tmp_path: Path, origin: RecordingOrigin) -> None:
    with (
        tunnel(tmp_path, origin.port, name="a") as a,
        tunnel(tmp_path, origin.port, name="b", **{fake.HOST_ENV: "pinned-host"}) as b,
    ):
        url_a = a.wait_for(FIRST_TUNNEL_URL.pattern, 10, stream="stderr").group(0)
        url_b = b.wait_for(FIRST_TUNNEL_URL.pattern, 10, stream="stderr").group(0)
    assert re.fullmatch(r"https://[a-z]+(-[a-z]+){3}\.trycloudflare\.com", url_a)
    assert url_b == "https://pinned-host.trycloudflare.com"


def test_an_origin_that_is_down_gets_a_502_from_the_edge(tmp_path: Path) -> None:
    with tunnel(tmp_path, free_port()) as proc:
        url = proc.wait_for(FIRST_TUNNEL_URL.pattern, 10, stream="stderr").group(0)
        response = edges.EdgeRegistry(tmp_path / "edges").wait(url).request("GET", "/")
    assert response.status_code == 502
    assert "Unable to reach the origin service" in response.text


def test_exit_mode_fails_before_any_url(tmp_path: Path, origin: RecordingOrigin) -> None:
    knobs = {fake.MODE_ENV: "exit", fake.EXIT_CODE_ENV: "3"}
    with tunnel(tmp_path, origin.port, **knobs) as proc, pytest.raises(ProcessExited) as info:
        proc.wait_for(FIRST_TUNNEL_URL.pattern, 10, stream="stderr")
    assert info.value.code == 3
    assert "failed to request quick Tunnel" in proc.stderr()
    assert list((tmp_path / "edges").glob("*.json")) == []


def test_no_url_mode_keeps_running_without_a_url(tmp_path: Path, origin: RecordingOrigin) -> None:
    with tunnel(tmp_path, origin.port, **{fake.MODE_ENV: "no-url"}) as proc:
        proc.wait_for("Registered tunnel connection", 10, stream="stderr")
        assert proc.exit_code() is None
        assert not FIRST_TUNNEL_URL.search(proc.stderr())
        assert edges.EdgeRegistry(tmp_path / "edges").edges() == []


def test_delay_holds_the_url_back(tmp_path: Path, origin: RecordingOrigin) -> None:
    with tunnel(tmp_path, origin.port, **{fake.DELAY_ENV: "1.0"}) as proc:
        started = time.monotonic()
        proc.wait_for("Requesting new quick Tunnel", 10, stream="stderr")
        proc.wait_for(FIRST_TUNNEL_URL.pattern, 10, stream="stderr")
        assert time.monotonic() - started >= 0.8


def test_a_bad_command_line_is_a_usage_error(tmp_path: Path) -> None:
    binary = edges.install_cloudflared(tmp_path)
    done = subprocess.run(
        [str(binary), "tunnel", "--hostname", "x"], capture_output=True, text=True, timeout=10
    )
    assert done.returncode == 2
    assert "flag provided but not defined: --hostname" in done.stderr
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("cloudflared version")
    assert binary.read_text().splitlines()[0] == f"#!{sys.executable}"


def test_it_dies_with_its_parent(tmp_path: Path, origin: RecordingOrigin) -> None:
    binary = edges.install_cloudflared(tmp_path / "bin")
    spawner = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([{str(binary)!r}, 'tunnel', '--url', "
        f"'http://127.0.0.1:{origin.port}'])\n"
        "time.sleep(60)\n"
    )
    env = {fake.EDGE_DIR_ENV: str(tmp_path / "edges"), RUN_ID_ENV: "t-" + tmp_path.name}
    with ManagedProcess(
        [sys.executable, "-c", spawner], env=env, logs_dir=tmp_path, name="parent"
    ) as parent:
        deadline = time.monotonic() + 10
        recorded: list[edges.Edge] = []
        while not recorded and time.monotonic() < deadline:
            recorded = edges.EdgeRegistry(tmp_path / "edges").edges()
            time.sleep(0.05)
        assert recorded, parent.logs()
        child = recorded[0].pid
        assert pid_alive(child)
        parent.stop()  # SIGTERM kills the parent only; the fake notices it was orphaned
    deadline = time.monotonic() + 5
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child)
