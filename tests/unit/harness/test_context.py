"""ScenarioContext checks, artifacts on pass and fail, run ids, and the runner's contract."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest

import scenarios
from harness import reap, tracks
from harness.artifacts import Artifacts
from harness.context import Check, CheckFailed, ScenarioContext, ScenarioResult, new_run_id
from harness.errors import HarnessError
from harness.host.track import HostBackend
from harness.process import RUN_ID_ENV, ManagedProcess, pid_alive
from harness.runner import check_runnable, execute, scenario_name, variants_of
from harness.tracks import Capability, RunScope


def make_ctx(tmp_path: Path) -> ScenarioContext:
    return ScenarioContext(
        name="demo",
        track="host",
        variant=None,
        run_id="demo-host-1",
        artifacts=Artifacts(tmp_path / "a"),
        work_dir=tmp_path / "w",
        store_root=tmp_path / "w" / "store",
        keep=False,
        stack=ExitStack(),
    )


def test_run_ids_are_unique_and_readable() -> None:
    ids = {new_run_id("host-pull", "host", "http") for _ in range(50)}
    assert len(ids) == 50
    assert all(i.startswith("host-pull-host-http-") for i in ids)


def test_a_passing_check_writes_its_evidence_and_is_recorded(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    ctx.check("status", True, "1/1/1", evidence={"status.json": {"a": 1}, "log.txt": "x"})
    assert json.loads((tmp_path / "a/evidence/status.json").read_text()) == {"a": 1}
    assert (tmp_path / "a/evidence/log.txt").read_text() == "x"
    line = json.loads((tmp_path / "a/checks.jsonl").read_text())
    assert line == {"name": "status", "ok": True, "detail": "1/1/1"}
    assert ctx.result().ok


def test_a_failing_check_writes_evidence_before_it_raises(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    with pytest.raises(CheckFailed, match="banner: never printed\nHint: read the logs"):
        ctx.check("banner", False, "never printed", evidence={"out.txt": "o"}, hint="read the logs")
    assert (tmp_path / "a/evidence/out.txt").read_text() == "o"
    result = ctx.result()
    assert not result.ok
    assert result.checks == [Check("banner", False, "never printed")]
    assert "✗ banner: never printed" in result.summary()


def test_artifact_names_cannot_escape_the_run_dir(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="escapes"):
        Artifacts(tmp_path / "a").path("../outside.txt")


def fake_scenario(
    name: str, body: Callable[[ScenarioContext], ScenarioResult], **attrs: object
) -> types.ModuleType:
    module = types.ModuleType(f"scenarios.{name}")
    for key, value in {"NEEDS": (), "run": body, **attrs}.items():
        setattr(module, key, value)
    return module


def test_runner_writes_result_json_on_pass(tmp_path: Path) -> None:
    def run(ctx: ScenarioContext) -> ScenarioResult:
        ctx.step("act")
        ctx.check("works", True)
        ctx.urls["worker"] = "http://x"
        return ctx.result()

    result = execute(fake_scenario("good_one", run), track="host", artifacts_root=tmp_path)
    assert result.ok and result.name == "good-one"
    doc = json.loads((result.artifacts / "result.json").read_text())
    assert doc["ok"] is True and doc["urls"] == {"worker": "http://x"}
    timeline = (result.artifacts / "steps.log").read_text().splitlines()
    assert [line.split("s ", 1)[1] for line in timeline] == ["act", "✓ works"]


def test_runner_turns_a_failed_check_into_a_result_and_closes_resources(tmp_path: Path) -> None:
    closed: list[str] = []

    def run(ctx: ScenarioContext) -> ScenarioResult:
        ctx.stack.callback(closed.append, "distributor")
        ctx.check("status", False, "got 0 revisions")
        return ctx.result()

    result = execute(fake_scenario("bad", run), track="host", artifacts_root=tmp_path)
    assert not result.ok
    assert result.error == "status: got 0 revisions"
    assert closed == ["distributor"]
    assert json.loads((result.artifacts / "result.json").read_text())["ok"] is False


def test_runner_keeps_unexpected_tracebacks_out_of_the_message(tmp_path: Path) -> None:
    def run(ctx: ScenarioContext) -> ScenarioResult:
        raise ZeroDivisionError("oops")

    result = execute(fake_scenario("crash", run), track="host", artifacts_root=tmp_path)
    assert not result.ok
    assert result.error is not None and "unexpected ZeroDivisionError: oops" in result.error
    assert "Traceback" in (result.artifacts / "traceback.txt").read_text()


def test_runner_refuses_unknown_tracks_and_variants_a_scenario_lacks(tmp_path: Path) -> None:
    module = fake_scenario("v", lambda ctx: ctx.result(), VARIANTS=("http", "oci"))
    assert variants_of(module) == ("http", "oci")
    assert scenario_name(module) == "v"
    with pytest.raises(tracks.UnknownTrack, match="no `moon` track here"):
        execute(module, track="moon", variant="http", artifacts_root=tmp_path)
    with pytest.raises(HarnessError, match="no variant `ftp`"):
        execute(module, track="host", variant="ftp", artifacts_root=tmp_path)


def test_runner_reaps_processes_a_scenario_leaked(tmp_path: Path) -> None:
    leaked: list[int] = []

    def run(ctx: ScenarioContext) -> ScenarioResult:
        proc = ManagedProcess(
            [sys.executable, "-c", "import time; time.sleep(60)"],
            env={RUN_ID_ENV: ctx.run_id},
            logs_dir=ctx.artifacts.dir,
            name="leak",
        ).start()
        leaked.append(proc.pid)
        assert reap.pids_of_run(ctx.run_id) == [proc.pid]
        return ctx.result()

    result = execute(fake_scenario("leaky", run), track="host", artifacts_root=tmp_path)
    assert result.ok
    assert not pid_alive(leaked[0])
    assert json.loads((result.artifacts / "reaped.json").read_text()) == [f"process {leaked[0]}"]


def test_an_unknown_variant_names_the_choices_and_the_next_step() -> None:
    with pytest.raises(HarnessError) as none:
        check_runnable(scenarios.load("digest-mismatch"), "host", "oci")
    assert str(none.value) == (
        "scenario `digest-mismatch` has no variants (asked for `oci`)\nHint: drop --variant"
    )
    with pytest.raises(HarnessError) as some:
        check_runnable(scenarios.load("host-pull"), "host", "ftp")
    assert str(some.value) == (
        "scenario `host-pull` has no variant `ftp` (it has: http, oci)\nHint: pass --variant http"
    )


# -- capabilities: skip with the reason, inject the backend ---------------------------------


class PodsBackend(HostBackend):
    """A stand-in pod track: the host's workers, every pod capability declared."""

    track = "pods"
    capabilities = tracks.POD_CAPABILITIES


@pytest.fixture
def two_tracks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The track table as `host` plus a fake `pods` track (no cluster, no docker)."""
    fake = types.ModuleType("fake_pod_track")
    fake.PodsBackend = PodsBackend  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_pod_track", fake)
    table = {"host": tracks.TRACKS["host"], "pods": "fake_pod_track:PodsBackend"}
    monkeypatch.setattr(tracks, "TRACKS", table)


@pytest.mark.usefixtures("two_tracks")
def test_a_track_without_a_needed_capability_skips_with_the_reason(tmp_path: Path) -> None:
    ran: list[str] = []

    def run(ctx: ScenarioContext) -> ScenarioResult:
        ran.append(ctx.track)
        ctx.check("reconciled", ctx.can(Capability.RECONCILE))
        return ctx.result()

    needs = (Capability.RECONCILE, Capability.READINESS)
    module = fake_scenario("pod_thing", run, NEEDS=needs)
    skipped = execute(module, track="host", artifacts_root=tmp_path)
    assert ran == []  # nothing was built or run
    assert skipped.skipped == (
        "`pod-thing` needs reconcile, readiness; the `host` track lacks them"
        "\nHint: pass --track pods"
    )
    assert not skipped.ok and skipped.outcome == "skipped" and skipped.checks == []
    doc = json.loads((skipped.artifacts / "result.json").read_text())
    assert doc["outcome"] == "skipped" and doc["skipped"] == skipped.skipped
    assert "skipped: `pod-thing` needs reconcile" in skipped.summary()

    passed = execute(module, track="pods", artifacts_root=tmp_path)
    assert ran == ["pods"] and passed.ok and passed.outcome == "passed"
    assert passed.skipped is None


@pytest.mark.usefixtures("two_tracks")
def test_the_default_track_is_the_first_that_has_what_a_scenario_needs() -> None:
    from harness import runner

    pods_only = fake_scenario("p", lambda ctx: ctx.result(), NEEDS=(Capability.RESTARTS,))
    anywhere = fake_scenario("a", lambda ctx: ctx.result())
    host_only = fake_scenario("h", lambda ctx: ctx.result(), NEEDS=(Capability.LOCAL_PROCESS,))
    assert runner.tracks_for(pods_only) == ["pods"]
    assert runner.tracks_for(anywhere) == ["host", "pods"]
    assert [runner.default_track(m) for m in (pods_only, anywhere, host_only)] == [
        "pods",
        "host",
        "host",
    ]
    assert runner.skip_reason(host_only, "pods") == (
        "`h` needs local-process; the `pods` track lacks it\nHint: pass --track host"
    )


def test_the_runner_injects_the_tracks_backend(tmp_path: Path) -> None:
    seen: list[object] = []

    def run(ctx: ScenarioContext) -> ScenarioResult:
        seen.append(ctx.backend)
        assert not ctx.can(Capability.READINESS) and ctx.can(Capability.LOCAL_PROCESS)
        return ctx.result()

    assert execute(fake_scenario("inject", run), track="host", artifacts_root=tmp_path).ok
    assert isinstance(seen[0], HostBackend)


def test_a_context_without_a_backend_says_who_injects_it(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    with pytest.raises(HarnessError, match="which injects it"):
        ctx.backend  # noqa: B018
    ctx.worker_backend = HostBackend()
    assert ctx.backend.capabilities == tracks.HOST_CAPABILITIES


def test_a_context_is_the_run_scope_a_backend_sees(tmp_path: Path) -> None:
    scope: RunScope = make_ctx(tmp_path)  # mypy checks the structure; this checks the values
    assert scope.store_root == tmp_path / "w" / "store" and scope.notes == []
