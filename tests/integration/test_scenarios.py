"""Every scenario × track × variant, through the same `run(ctx)` demo.py calls.

kopf's test_all_examples_are_runnable: a new scenarios/<name>.py (or a new track in
harness.tracks.TRACKS) is tested with no new test code. A track that lacks a capability the
scenario NEEDS is a `pytest.skip` with the runner's reason. docker/kind tracks carry their
markers, so the conftest gates them; the host track runs by default. Plus demo.py's own verbs
end to end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import scenarios
from harness import runner, tracks
from harness.process import pid_alive
from harness.registry import BINARY as REGISTRY_BINARY

REPO = Path(__file__).resolve().parents[2]
TRACK_MARKS: dict[str, list[Any]] = {
    "host": [],
    # the first docker case of a session may build the local images (debootstrap: minutes)
    "docker": [pytest.mark.docker, pytest.mark.timeout(1200)],
    # the first kind case of a process creates its cluster and loads the images (minutes)
    "kind": [pytest.mark.kind, pytest.mark.timeout(1800)],
}


def cases() -> Iterator[Any]:
    for name in scenarios.names():
        if name.startswith("repro-"):
            continue  # tests/integration/test_repro.py runs the repros, with and without the fix
        module = scenarios.load(name)
        for track in tracks.TRACKS:
            for variant in runner.variants_of(module):
                marks = list(TRACK_MARKS.get(track, []))
                if variant == "oci" and shutil.which(REGISTRY_BINARY) is None:
                    marks.append(pytest.mark.skip(reason="Debian docker-registry not installed"))
                case_id = "-".join(p for p in (name, track, variant) if p)
                yield pytest.param(name, track, variant, marks=marks, id=case_id)


@pytest.mark.parametrize(("name", "track", "variant"), list(cases()))
def test_scenario(name: str, track: str, variant: str | None) -> None:
    result = runner.execute(scenarios.load(name), track=track, variant=variant)
    if result.skipped is not None:
        pytest.skip(result.skipped)
    assert result.ok, result.summary()
    assert result.checks and all(c.ok for c in result.checks)
    assert (result.artifacts / "result.json").is_file()


def demo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "demo.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def demo_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GREENTIC_", "GTC_"))}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # the host-pull state file lives here
    env["GTC_ARTIFACTS"] = str(tmp_path / "artifacts")
    env["NO_COLOR"] = "1"
    env["GTC_DEMO_PORT"] = "0"  # never race a concurrent run (or a user's demo) for 8080
    return env


def test_demo_list_and_unknown_verbs(demo_env: dict[str, str]) -> None:
    listed = demo("list", env=demo_env)
    assert listed.returncode == 0
    assert "host-pull" in listed.stdout and "digest-mismatch" in listed.stdout
    bare = demo(env=demo_env)  # no verb: one line pointing at `list`, not an argparse error
    assert bare.returncode == 1
    assert bare.stdout.strip().splitlines() == [
        "no verb given — next: `python demo.py list` shows every verb (e.g. host-pull)"
    ]
    unknown = demo("no-such-verb", env=demo_env)
    assert unknown.returncode == 1
    assert unknown.stdout.strip().splitlines() == [
        "unknown verb `no-such-verb` — next: `python demo.py list` shows every verb"
    ]


def test_demo_host_pull_leaves_a_serving_worker_that_host_stop_stops(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    pulled = demo("host-pull", env=demo_env)
    state_file = tmp_path / "cache/greentic-demo/host-pull.json"
    try:  # whatever fails below, host-stop runs: a failed check never leaks the kept worker
        assert pulled.returncode == 0, pulled.stdout + pulled.stderr
        assert "✓ banner: serving 1 revision(s) for env `local`" in pulled.stdout
        banner = re.compile(  # the banner exactly as printed, not split by a `—` detail
            r"^  ✓ banner: serving 1 revision\(s\) for env `local` across 1 deployment\(s\) "
            r"on http://127\.0\.0\.1:\d+$",
            re.M,
        )
        assert banner.search(pulled.stdout), pulled.stdout
        assert "curl -s -X POST" in pulled.stdout and "demo.py host-stop" in pulled.stdout
        state = json.loads(state_file.read_text())
        pid, url = state["kept"][0]["pid"], state["urls"]["worker"]
        assert pid_alive(pid)  # it outlived demo.py
        status = httpx.get(f"{url}/status", trust_env=False, timeout=5).json()
        assert status["revisions_active"] == 1
    finally:
        stopped = demo("host-stop", env=demo_env)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert f"stopped worker (local) (pid {pid})" in stopped.stdout
    assert not pid_alive(pid)
    again = demo("host-stop", env=demo_env)
    assert again.returncode == 0 and "nothing to stop" in again.stdout
