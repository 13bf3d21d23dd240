"""Every troubleshooting repro × every track it runs on here: it passes with its fix, and it
FAILS when the fix is skipped (`GTC_REPRO_SKIP_FIX=1`) — at a `recovered` check, after the
symptom and the cause were shown. Generic over `scenarios._repro.catalog()` (every module with
a `ROW`), so a new `scenarios/repro_<name>.py` is covered with no new test code. Tracks and
their markers as in test_scenarios.py: host always, docker when the engine is up, kind with
`-m kind`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

import scenarios
from harness import runner
from harness.context import ScenarioResult
from scenarios import _repro as repro

TRACK_MARKS: dict[str, list[Any]] = {
    "host": [],
    "docker": [pytest.mark.docker, pytest.mark.timeout(1200)],
    "kind": [pytest.mark.kind, pytest.mark.timeout(1800)],
}
PHASES = ("symptom", "cause", "fix", "recovered")
STEP_LINE = re.compile(r"^\s*\d+\.\d+s (.*)$")


def cases() -> Iterator[Any]:
    for listed in repro.catalog():
        module = scenarios.load(listed.scenario)
        for track in listed.tracks:
            for variant in runner.variants_of(module):
                case_id = "-".join(p for p in (listed.row.name, track, variant) if p)
                marks = TRACK_MARKS.get(track, [])
                yield pytest.param(listed.scenario, track, variant, marks=marks, id=case_id)


def timeline(result: ScenarioResult) -> list[str]:
    """The run's steps and checks in order (`prepare: …`, `✓ name`, `✗ name`)."""
    lines = (result.artifacts / "steps.log").read_text(encoding="utf-8").splitlines()
    return [m.group(1) for m in map(STEP_LINE.match, lines) if m]


def phase_at(lines: list[str], phase: str) -> int:
    """The index of the phase's one announcement; fails when it is missing or repeated."""
    found = [i for i, line in enumerate(lines) if line.startswith(f"{phase}: ")]
    assert len(found) == 1, f"phase `{phase}` announced {len(found)} times in {lines}"
    return found[0]


def execute(name: str, track: str, variant: str | None) -> ScenarioResult:
    result = runner.execute(scenarios.load(name), track=track, variant=variant)
    if result.skipped is not None:
        pytest.skip(result.skipped)
    return result


@pytest.mark.parametrize(("name", "track", "variant"), list(cases()))
def test_repro_shows_symptom_cause_fix_recovered(
    name: str, track: str, variant: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(repro.SKIP_FIX_ENV, raising=False)
    result = execute(name, track, variant)
    assert result.ok, result.summary()
    lines = timeline(result)
    at = [phase_at(lines, phase) for phase in PHASES]
    assert at == sorted(at), f"phases out of order: {dict(zip(PHASES, at, strict=True))}"
    bounds = [*at, len(lines)]
    for phase, start, end in zip(PHASES, bounds, bounds[1:], strict=False):
        if phase != "fix":  # the fix acts; the other three phases each assert something
            checks = [ln for ln in lines[start + 1 : end] if ln.startswith("✓ ")]
            assert checks, f"phase `{phase}` checked nothing: {lines[start:end]}"
    assert (result.artifacts / "result.json").is_file()


@pytest.mark.parametrize(("name", "track", "variant"), list(cases()))
def test_repro_fails_without_its_fix(
    name: str, track: str, variant: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(repro.SKIP_FIX_ENV, "1")
    result = execute(name, track, variant)
    assert not result.ok, f"{name} passed without its fix: not a repro\n{result.summary()}"
    lines = timeline(result)
    skipped = [ln for ln in lines if ln.startswith(f"fix: SKIPPED ({repro.SKIP_FIX_ENV}=1)")]
    assert len(skipped) == 1, lines
    failed = [i for i, ln in enumerate(lines) if ln.startswith("✗ ")]
    assert failed, f"no check failed: {result.summary()}"
    assert failed[0] > phase_at(lines, "recovered"), (
        f"the first failed check is not a `recovered` one: {lines[failed[0]]!r}\n"
        + result.summary()
    )
    assert (result.artifacts / "result.json").is_file()


def test_the_catalog_is_every_module_with_a_row() -> None:
    """Found by `ROW`, named `repro-<ROW.name>`: a module and its row never disagree."""
    listed = repro.catalog()
    assert listed, "no repro scenarios at all"
    for item in listed:
        assert item.scenario == f"{repro.PREFIX}{item.row.name}", item
    named = {n for n in scenarios.names() if n.startswith(repro.PREFIX)}
    assert named == {item.scenario for item in listed}  # every repro-* module declares a ROW


def test_skip_fix_hook_is_off_unless_set_to_1(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("", "0", "yes"):
        monkeypatch.setenv(repro.SKIP_FIX_ENV, value)
        assert not repro.skipping_fix()
    monkeypatch.setenv(repro.SKIP_FIX_ENV, "1")
    assert repro.skipping_fix()
