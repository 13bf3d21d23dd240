"""Tunnel pure parts: the URL scan, binary resolution, the URL wait and the reachability probe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from greentic.errors import NotFound
from greentic.worker import tunnel


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("INF |  https://a-b-c.trycloudflare.com  |", "https://a-b-c.trycloudflare.com"),
        ('see "https://x.trycloudflare.com", ok', "https://x.trycloudflare.com"),
        ("(https://x.trycloudflare.com)>", "https://x.trycloudflare.com"),
        (
            "https://api.trycloudflare.com/ask then https://q.trycloudflare.com]",
            "https://q.trycloudflare.com",
        ),
        ("https://example.com https://w.trycloudflare.com'", "https://w.trycloudflare.com"),
        ("no url here", None),
        ("http://plain.trycloudflare.com", None),
        ("https://.trycloudflare.com", None),
        ("https://trycloudflare.com.evil.example", None),
        ("https://", None),
    ],
)
def test_scan_url_takes_the_first_quick_tunnel_url(text: str, url: str | None) -> None:
    assert tunnel.scan_url(text) == url


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_binary_resolution_order(tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    flagged = executable(env_dir / "tools" / "cf")
    from_env = executable(tmp_path / "cf-env")
    local = executable(env_dir / "bin" / "cloudflared")
    on_path = executable(tmp_path / "path" / "cloudflared")
    environ = {tunnel.BINARY_ENV: str(from_env)}

    def which(_: str) -> str:
        return str(on_path)

    assert tunnel.resolve_binary("tools/cf", env_dir, environ, which) == flagged  # env-relative
    assert tunnel.resolve_binary(str(flagged), env_dir, environ, which) == flagged
    assert tunnel.resolve_binary(None, env_dir, environ, which) == from_env
    assert tunnel.resolve_binary(None, env_dir, {}, which) == local
    local.unlink()
    assert tunnel.resolve_binary(None, env_dir, {}, which) == on_path


def test_missing_binaries_name_the_flag_and_the_variable(tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    with pytest.raises(NotFound) as err:
        tunnel.resolve_binary(None, env_dir, {}, lambda _: None)
    assert "--cloudflared-binary" in err.value.message
    assert tunnel.BINARY_ENV in err.value.message
    with pytest.raises(NotFound) as err:
        tunnel.resolve_binary("nope/cf", env_dir, {}, lambda _: None)
    assert err.value.message.startswith(f"explicit binary path not found: {env_dir}/nope/cf")
    with pytest.raises(NotFound) as err:
        tunnel.resolve_binary(None, env_dir, {tunnel.BINARY_ENV: "/no/such"}, lambda _: None)
    assert err.value.message == f"{tunnel.BINARY_ENV}=`/no/such` is not an executable file"
    plain = tmp_path / "not-exec"
    plain.write_text("x")
    with pytest.raises(NotFound):
        tunnel.resolve_binary(str(plain), env_dir, {}, lambda _: None)


def test_seconds_reads_a_non_negative_number() -> None:
    assert tunnel.seconds({"X": "2.5"}, "X", 10) == 2.5
    assert tunnel.seconds({"X": "0"}, "X", 10) == 0
    for bad in ("", "soon", "-1"):
        assert tunnel.seconds({"X": bad}, "X", 10) == 10


def child(tmp_path: Path, script: str) -> tunnel.Tunnel:
    log = tmp_path / "cloudflared.log"
    out = open(log, "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=out, stderr=subprocess.STDOUT)
    out.close()
    return tunnel.Tunnel(proc=proc, log=log, pid_file=tmp_path / "cf.pid")


def test_wait_for_url_finds_it_in_the_log(tmp_path: Path) -> None:
    t = child(
        tmp_path,
        "import sys,time; print('https://u.trycloudflare.com', flush=True); time.sleep(30)",
    )
    try:
        assert tunnel.wait_for_url(t, timeout=10) == "https://u.trycloudflare.com"
        assert t.url == "https://u.trycloudflare.com"
    finally:
        t.stop()
    assert t.proc.poll() is not None


def test_wait_for_url_reports_an_early_exit_and_a_timeout(tmp_path: Path) -> None:
    t = child(tmp_path, "raise SystemExit(4)")
    with pytest.raises(tunnel.TunnelFailed) as err:
        tunnel.wait_for_url(t, timeout=10)
    assert str(err.value) == (
        f"cloudflared exited with code 4 before printing a public URL; see {t.log}"
    )
    t = child(tmp_path, "import time; time.sleep(30)")
    try:
        with pytest.raises(tunnel.TunnelFailed) as err:
            tunnel.wait_for_url(t, timeout=0.3)
        assert str(err.value) == f"timed out waiting for cloudflared public URL in {t.log}"
        assert tunnel.wait_for_url(t, timeout=5, should_stop=lambda: True) is None
    finally:
        t.stop(grace=0.5)


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    t = child(
        tmp_path,
        "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(30)",
    )
    while "up" not in t.log.read_text():
        pass
    t.pid_file.write_text("{}")
    t.stop(grace=0.2)
    assert t.proc.returncode == -9
    assert not t.pid_file.exists()


def test_reachable_retries_then_reports_the_last_error() -> None:
    calls: list[str] = []
    slept: list[float] = []

    def head(url: str) -> object:
        calls.append(url)
        if len(calls) < 3:
            raise OSError("not yet")
        return 200

    assert tunnel.reachable("https://u", timeout=30, head=head, sleep=slept.append) is None
    assert slept == [0.4, 0.8]

    def never(url: str) -> object:
        raise OSError("dns")

    assert tunnel.reachable("https://u", timeout=0.2, head=never, sleep=lambda s: None) == "dns"
