"""docs/troubleshooting.md and the repro scenarios stay one to one.

Every table row names its repro as `python demo.py repro <name> [--track T]`; every such name
is a scenario `repro-<name>` whose `ROW.name` is `<name>`, and every repro scenario (found by
its `ROW`, scenarios._repro.catalog) has a row. A `--track` in a row's command must be a
track the scenario runs on (from its NEEDS). Parsed from the markdown, so a row added without
a scenario, or a scenario without a row, fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from scenarios import _repro as repro

PAGE = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"
COMMAND = re.compile(r"`python demo\.py repro ([a-z0-9-]+)((?: --track [a-z]+)?)`")
SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")


@dataclass(frozen=True)
class TableRow:
    symptom: str
    repro_cell: str


def table(text: str) -> list[TableRow]:
    """The troubleshooting table's body rows (the first table whose header has `repro`)."""
    rows: list[TableRow] = []
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            if header is not None and rows:
                break  # the table ended
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if SEPARATOR.match(line.strip()):
            continue
        if "repro" not in header or len(cells) != len(header):
            raise AssertionError(f"malformed troubleshooting row: {line!r}")
        rows.append(TableRow(cells[header.index("symptom")], cells[header.index("repro")]))
    return rows


def commands(row: TableRow) -> list[tuple[str, str | None]]:
    """(name, track or None) of every `python demo.py repro …` in the row's repro cell."""
    return [
        (m.group(1), m.group(2).split()[-1] if m.group(2) else None)
        for m in COMMAND.finditer(row.repro_cell)
    ]


@pytest.fixture(scope="module")
def rows() -> list[TableRow]:
    return table(PAGE.read_text(encoding="utf-8"))


def test_the_page_has_the_seed_rows_and_the_projects(rows: list[TableRow]) -> None:
    assert len(rows) >= 7 + 3  # seeds/000's seven (one split in two) and the project's three


def test_every_row_names_one_repro_command(rows: list[TableRow]) -> None:
    missing = [r.symptom for r in rows if not commands(r)]
    assert not missing, f"rows without `python demo.py repro <name>`: {missing}"
    names = [commands(r)[0][0] for r in rows]
    assert len(names) == len(set(names)), f"a repro named by two rows: {names}"


def test_every_row_has_a_repro_scenario_and_every_repro_a_row(rows: list[TableRow]) -> None:
    documented = {commands(r)[0][0] for r in rows if commands(r)}
    have = {listed.row.name for listed in repro.catalog()}
    assert sorted(documented - have) == [], "rows whose repro scenario does not exist"
    assert sorted(have - documented) == [], "repro scenarios with no troubleshooting row"


def test_a_rows_track_is_one_its_repro_runs_on(rows: list[TableRow]) -> None:
    tracks = {listed.row.name: listed.tracks for listed in repro.catalog()}
    wrong = [
        f"{name} --track {track} (runs on: {', '.join(tracks[name])})"
        for r in rows
        for name, track in commands(r)
        if name in tracks and (not tracks[name] or (track and track not in tracks[name]))
    ]
    assert not wrong, f"commands naming a track the repro cannot run on: {wrong}"


def test_the_parser_sees_a_missing_command_and_a_malformed_row() -> None:
    page = (
        "| # | symptom | cause | fix | repro |\n|---|---|---|---|---|\n"
        "| 1 | a | b | c | `python demo.py repro x --track docker` |\n"
        "| 2 | d | e | f | shown by a unit test |\n"
    )
    parsed = table(page)
    assert [commands(r) for r in parsed] == [[("x", "docker")], []]
    with pytest.raises(AssertionError, match="malformed"):
        table(page + "| 3 | only | three |\n")


def test_the_page_names_the_admin_listener_fix_for_chat() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert "main port + 1" in text and "future work" not in text
