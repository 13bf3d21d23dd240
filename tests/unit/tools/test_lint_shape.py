"""tools/lint_shape.py on small synthetic modules: the CC limit, the size limit, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import lint_shape


def branchy(name: str, branches: int, indent: str = "") -> str:
    """A function with cyclomatic complexity 1 + `branches` (one `if` per branch)."""
    body = "".join(
        f"{indent}    if x == {i}:\n{indent}        return {i}\n" for i in range(branches)
    )
    return f"{indent}def {name}(x):\n{body}{indent}    return -1\n"


def test_a_function_over_15_is_reported_with_its_line_and_cc() -> None:
    source = "import os\n\n\n" + branchy("ok", 14) + "\n\n" + branchy("too_big", 15)
    line = source.splitlines().index("def too_big(x):") + 1
    assert lint_shape.check_source("pkg/mod.py", source) == [
        f"pkg/mod.py:{line} too_big CC=16 (max 15)"
    ]


def test_methods_and_closures_are_checked_once_each() -> None:
    method = branchy("handle", 16, indent="    ")
    closure = "def outer():\n" + branchy("inner", 17, indent="    ") + "    return inner\n"
    source = "class App:\n" + method + "\n\n" + closure
    found = lint_shape.check_source("m.py", source)
    assert found == [
        "m.py:2 App.handle CC=17 (max 15)",
        f"m.py:{source.splitlines().index('    def inner(x):') + 1} inner CC=18 (max 15)",
    ]


def module(lines: int, doc: str = "A module.") -> str:
    head = f'"""{doc}"""\n'
    return head + "x = 1\n" * (lines - head.count("\n"))


def test_size_limit_and_the_size_reason() -> None:
    assert lint_shape.check_source("a.py", module(400)) == []
    assert lint_shape.check_source("a.py", module(401)) == [
        'a.py: 401 lines (max 400; add a "Size:" reason)'
    ]
    reasoned = module(900, "A table.\n\nSize: one literal table of every upstream error code.\n")
    assert lint_shape.check_source("a.py", reasoned) == []
    empty_reason = module(401, "A module.\n\nSize:\n")
    assert lint_shape.check_source("a.py", empty_reason) != []
    not_the_docstring = "# Size: a comment is not the docstring\n" + module(401)
    assert lint_shape.check_source("a.py", not_the_docstring) != []


def test_a_file_that_does_not_parse_is_a_violation() -> None:
    assert lint_shape.check_source("bad.py", "def f(:\n") == [
        "bad.py:1 cannot parse: invalid syntax"
    ]


def test_cli_walks_directories_prints_violations_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "clean.py").write_text(branchy("f", 3))
    (tmp_path / "pkg" / "sub" / "big.py").write_text(module(450))
    (tmp_path / "pkg" / ".venv").mkdir()
    (tmp_path / "pkg" / ".venv" / "vendored.py").write_text(branchy("g", 40))
    (tmp_path / "demo.py").write_text(branchy("main", 20))
    assert lint_shape.main(["pkg", "demo.py"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        'pkg/sub/big.py: 450 lines (max 400; add a "Size:" reason)',
        "demo.py:1 main CC=21 (max 15)",
    ]
    assert lint_shape.main(["pkg/clean.py"]) == 0
    assert capsys.readouterr().out == ""
    assert lint_shape.main(["nope"]) == 2
    assert "no such file or directory: nope" in capsys.readouterr().err
