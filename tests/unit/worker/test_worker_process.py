"""Banners (exact SPEC §7 strings), the CLI's error lines and `stop` without a worker."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from greentic.cli import start as start_cli
from greentic.errors import Conflict
from greentic.store.envstore import Store
from greentic.worker import pidfile, process, server
from greentic.worker.activation import Activation, ActiveDeployment, ActiveRevision
from greentic.worker.listeners import Address
from greentic.worker.routing import Route

from .envs import EnvBuilder, save_cold


def table(revisions_per_deployment: list[int]) -> Activation:
    deployments = tuple(
        ActiveDeployment(
            Route(f"D{i}", f"b{i}", "t", "default"),
            tuple(ActiveRevision(f"R{i}{j}", f"D{i}", f"b{i}", 1, ("p",)) for j in range(n)),
        )
        for i, n in enumerate(revisions_per_deployment)
    )
    return Activation("local", deployments)


def test_serving_banner_is_exact() -> None:
    text = process.banner(table([2, 1]), "local", Address("0.0.0.0", 8080))
    assert (
        text
        == "serving 3 revision(s) for env `local` across 2 deployment(s) on http://0.0.0.0:8080"
    )


def test_probes_only_banner_is_exact() -> None:
    text = process.banner(table([]), "prod", Address("127.0.0.1", 9000))
    assert text == (
        "no bundles attached to env `prod` — serving probes only on http://127.0.0.1:9000 "
        "(attach a bundle with `gtc op bundles add`)"
    )


def test_port_in_use_names_the_address_and_suggests_a_port() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(Conflict) as err:
            server.bind(Address("127.0.0.1", port), env_id="local")
    assert str(err.value) == f"cannot listen on 127.0.0.1:{port}: the address is already in use"
    assert err.value.hint is not None
    assert "PORT=" in err.value.hint
    assert "greentic-start start --env local" in err.value.hint


def test_bind_port_zero_gets_a_free_port() -> None:
    sock = server.bind(Address("127.0.0.1", 0), env_id="local")
    try:
        assert sock.getsockname()[1] > 0
    finally:
        sock.close()


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        start_cli.main(argv)
    out, err = capsys.readouterr()
    return int(exit_.value.code or 0), out, err


def test_cli_unknown_env_is_one_clear_line(
    store_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["--env", "ghost", "--store-root", str(store_root)], capsys)
    assert code == 1
    assert out == ""
    error = json.loads(err)["error"]
    assert error["kind"] == "not-found"
    assert error["message"].startswith("no environment `ghost` in the store at ")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_cli_env_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert start_cli.resolve_env(None) == "local"
    monkeypatch.setenv("GREENTIC_ENV", "staging")
    assert start_cli.resolve_env(None) == "staging"
    assert start_cli.resolve_env("prod") == "prod"


def test_cli_cloudflared_on_without_a_binary_names_the_flag_and_the_variable(
    store_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    save_cold(Store(store_root), EnvBuilder().build())
    monkeypatch.setenv("PATH", str(store_root / "no-bin"))
    monkeypatch.delenv("GREENTIC_OPERATOR_BINARY_CLOUDFLARED", raising=False)
    argv = ["start", "--env", "local", "--store-root", str(store_root), "--cloudflared", "on"]
    code, out, err = run_cli(argv, capsys)
    assert code == 1 and out == ""
    error = json.loads(err)["error"]
    assert error["kind"] == "not-found"
    assert error["message"].startswith("cloudflared not found")
    assert "GREENTIC_OPERATOR_BINARY_CLOUDFLARED" in error["message"]
    assert "--cloudflared-binary" in err


def test_cli_refuses_a_second_worker_for_the_same_env(
    store_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(store_root)
    save_cold(store, EnvBuilder().build())
    paths = store.paths("local")
    pidfile.path(paths).parent.mkdir(parents=True)
    ppid = os.getppid()  # a live process that is not us
    record = {"pid": ppid, "start_time": pidfile.proc_start_time(ppid), "url": "http://x"}
    pidfile.path(paths).write_text(json.dumps(record))
    code, _, err = run_cli(["--env", "local", "--store-root", str(store_root)], capsys)
    assert code == 1
    assert f"greentic-start (pid {ppid}) is already serving env `local` on http://x" in err
    assert "greentic-start stop --env local" in err


def test_cli_refuses_a_second_worker_while_the_first_still_boots(
    store_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two starts at once: the first holds the worker lock before it has a pid file."""
    store = Store(store_root)
    save_cold(store, EnvBuilder().build())
    held = pidfile.claim(store.paths("local"))
    assert held is not None
    monkeypatch.setenv("GREENTIC_GATEWAY_LISTEN_ADDR", "192.0.2.1:0")  # fails if ever bound
    try:
        code, out, err = run_cli(["--env", "local", "--store-root", str(store_root)], capsys)
    finally:
        os.close(held)
    assert (code, out) == (1, "")
    error = json.loads(err)["error"]
    assert error["kind"] == "conflict"
    assert error["message"].startswith("another greentic-start is already booting env `local`")
    assert "greentic-start stop --env local" in err
    assert len(err.strip().splitlines()) == 1


def test_worker_lock_is_free_again_once_the_worker_exits(store_root: Path) -> None:
    paths = Store(store_root).paths("local")
    first = pidfile.claim(paths)
    assert first is not None
    assert pidfile.claim(paths) is None
    os.close(first)
    again = pidfile.claim(paths)
    assert again is not None
    os.close(again)


def test_stop_without_a_worker(store_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["stop", "--env", "local", "--store-root", str(store_root)], capsys)
    assert (code, out.strip()) == (0, "no greentic-start is serving env `local` (nothing to stop)")


def test_stop_clears_a_stale_pid_file(store_root: Path) -> None:
    paths = Store(store_root).paths("local")
    pidfile.path(paths).parent.mkdir(parents=True)
    pidfile.path(paths).write_text('{"pid": 4194000, "start_time": null, "url": "http://x"}')
    report = process.stop("local", store_root=str(store_root))
    assert (
        report
        == "no greentic-start is serving env `local` (removed the stale pid file of pid 4194000)"
    )
    assert not pidfile.path(paths).exists()


def test_bound_socket_is_tcp_so_responses_are_not_delayed() -> None:
    """asyncio sets TCP_NODELAY on accepted sockets only when proto is TCP (else ~40 ms/resp)."""
    sock = server.bind(Address("127.0.0.1", 0), env_id="local")
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
