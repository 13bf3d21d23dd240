"""demo.py's verbs without running a worker: the verb table, `list`, `repro` (its listing and
its refusals), the verbs that are not available yet, a scenario the chosen track cannot host
(SKIP with the reason) and host-stop's record handling. The end-to-end host-pull → host-stop
run is in tests/integration/test_scenarios.py."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

import demo
from harness import kept, reap, runner
from harness.process import RUN_ID_ENV, ManagedProcess, pid_alive
from scenarios import _repro as repro


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """host-pull's record lives under this test's own XDG cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = demo.main(list(argv))
    return code, capsys.readouterr().out.splitlines()


def settle_environ(pid: int, run_id: str) -> None:
    """Until /proc/<pid>/environ shows the run id: Popen returns once exec began, a moment
    before the kernel has set up the new environment (a long-running worker is long past)."""
    deadline = time.monotonic() + 5
    while reap.run_id_of(pid) != run_id and time.monotonic() < deadline:
        time.sleep(0.01)


def test_every_verb_has_a_handler_or_one_line_saying_why_not() -> None:
    assert demo.handler_for("host-pull") is demo.verb_host_pull
    assert demo.handler_for("digest-mismatch") is demo.verb_scenario
    assert demo.handler_for("prune") is demo.verb_scenario
    assert demo.handler_for("kind-up") is demo.verb_kind_up
    assert demo.handler_for("repro") is demo.verb_repro
    assert demo.handler_for("") == (
        "no verb given — next: `python demo.py list` shows every verb (e.g. host-pull)"
    )
    assert demo.handler_for("moon") == (
        "unknown verb `moon` — next: `python demo.py list` shows every verb"
    )


# SPEC §9's demo.py verbs: every one is a scenario or a command in this checkout
SPEC_VERBS = (
    "host-pull", "host-stop", "kind-up", "kind-serve", "kind-pull", "kind-down", "tunnel",
    "digest-mismatch", "prune", "repro", "doctor", "list",
)  # fmt: skip


@pytest.mark.parametrize("verb", SPEC_VERBS)
def test_every_spec_verb_has_a_handler(verb: str) -> None:
    assert callable(demo.handler_for(verb)), demo.handler_for(verb)


def test_list_shows_each_scenarios_tracks_from_its_capabilities(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(capsys, "list")
    assert code == 0
    lines = {line.split()[0]: line for line in out if line.startswith("  ") and line.split()}
    assert "tracks: host, kind, docker" in lines["digest-mismatch"]
    assert "tracks: kind, docker variants: probes, bundle" in lines["kind-serve"]
    assert "tracks: kind, docker" in lines["prune"]
    assert lines["host-pull"].split("tracks: ")[1].startswith("host")
    assert not [n for n, line in lines.items() if "not available" in line]
    for verb in ("host-stop", "kind-up", "kind-down", "doctor"):
        assert verb in lines


def test_repro_lists_every_row_with_its_tracks_and_symptom(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(capsys, "repro")
    assert code == 0
    assert out[0].startswith("troubleshooting repros  (python demo.py repro <name>")
    listed = repro.catalog()
    assert listed  # the rows are found by ROW, not a list in demo.py
    for item in listed:
        line = next(ln for ln in out if ln.split()[:1] == [item.row.name])
        assert line.split("tracks: ")[1] == ", ".join(item.tracks)
        assert out[out.index(line) + 1].strip() == item.row.symptom
    assert len(out) == 1 + 2 * len(listed)


def test_repro_tracks_come_from_the_needs() -> None:
    import scenarios

    by_name = {item.row.name: item for item in repro.catalog()}
    assert by_name["port-in-use"].tracks == ("host",)  # NEEDS local-process
    assert by_name["crashloop-digest"].tracks == ("host", "kind", "docker")
    for item in by_name.values():
        assert item.tracks == tuple(runner.tracks_for(scenarios.load(item.scenario)))


def test_list_groups_the_repros_apart_from_the_scenarios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(capsys, "list")
    assert code == 0
    start = next(i for i, ln in enumerate(out) if ln.startswith("troubleshooting repros"))
    end = next(i for i, ln in enumerate(out) if ln.startswith("other verbs"))
    group = {ln.split()[0] for ln in out[start + 1 : end] if ln.startswith("  ") and ln.split()}
    names = {item.row.name for item in repro.catalog()}
    assert names <= group
    scenario_lines = {ln.split()[0] for ln in out[1:start] if ln.startswith("  ") and ln.split()}
    assert not {item.scenario for item in repro.catalog()} & scenario_lines


def test_repro_of_an_unknown_row_says_how_to_list_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = run(capsys, "repro", "no-such-row")
    assert code == 1
    assert out == ["no troubleshooting row `no-such-row` — next: `python demo.py repro` lists them"]


def test_repro_on_a_track_it_cannot_use_skips_with_the_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out = run(
        capsys, "repro", "port-in-use", "--track", "docker", "--artifacts", str(tmp_path)
    )
    assert code == 1
    assert out[0].startswith("repro-port-in-use [docker]")
    assert out[-1] == (
        "SKIP repro-port-in-use [docker]: `repro-port-in-use` needs local-process; the "
        "`docker` track lacks it — next: pass --track host"
    )


def test_a_track_without_the_needed_capabilities_prints_skip_with_the_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out = run(capsys, "kind-serve", "--track", "host", "--artifacts", str(tmp_path))
    assert code == 1
    assert out[-1] == (
        "SKIP kind-serve [host]: `kind-serve` needs reconcile, readiness; the `host` track "
        "lacks them — next: pass --track kind"
    )


def test_a_bad_variant_names_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "host-pull", "--variant", "ftp")
    assert code == 1
    assert out == [
        "✗ scenario `host-pull` has no variant `ftp` (it has: http, oci) — next: "
        "pass --variant http"
    ]


def test_host_stop_with_nothing_recorded_stops_nothing(
    capsys: pytest.CaptureFixture[str], private_cache: Path
) -> None:
    code, out = run(capsys, "host-stop")
    assert code == 0
    assert out[-1].endswith("is absent); nothing to stop")


def test_host_stop_removes_an_unreadable_record(
    capsys: pytest.CaptureFixture[str], private_cache: Path
) -> None:
    record = kept.state_file()
    record.parent.mkdir(parents=True)
    record.write_text("{half a record")
    code, out = run(capsys, "host-stop")
    assert code == 1
    assert out == [f"✗ {record} was unreadable; removed it — next: rerun host-stop"]
    assert not record.exists()


def test_host_stop_stops_the_recorded_worker(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_id = "demo-unit-host-stop"
    proc = ManagedProcess(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env={RUN_ID_ENV: run_id},
        logs_dir=tmp_path,
        name="w",
        detach=True,
    ).start()
    settle_environ(proc.pid, run_id)
    worker = kept.Kept("worker (local)", proc.pid, run_id)
    url = "http://127.0.0.1:1"
    kept.record(kept.KeptRun(run_id, str(tmp_path), {"worker": url}, (worker,)))
    try:
        code, out = run(capsys, "host-stop")
        assert code == 0
        assert out[0] == f"  ✓ stopped worker (local) (pid {proc.pid}) {url}"
        assert not pid_alive(proc.pid)
        again, out = run(capsys, "host-stop")
        assert again == 0 and out[-1].endswith("nothing to stop")
    finally:
        proc.stop()
