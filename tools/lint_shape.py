"""Shape rules `make lint` enforces (STYLE): small functions, modules that fit in a head.

No function or method may have a cyclomatic complexity (radon's count) above 15, and no module
may run over 400 lines unless its module docstring has a line starting with `Size:` giving a
reason. Prints one line per violation and exits 1 when there is any:

    path:line name CC=N (max 15)
    path: N lines (max 400; add a "Size:" reason)

Usage: `python tools/lint_shape.py [PATH ...]` (directories are walked for `*.py`; default:
greentic harness scenarios demo.py).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from radon.complexity import cc_visit  # type: ignore[import-untyped]

MAX_CC = 15
MAX_LINES = 400
SIZE_TAG = "Size:"
DEFAULT_PATHS = ("greentic", "harness", "scenarios", "demo.py")
SKIP_DIRS = {".venv", "__pycache__", ".git", "artifacts"}


def _functions(blocks: Iterable[Any]) -> Iterator[Any]:
    """Every function, method and closure among radon's blocks (classes are walked, not scored).

    radon lists methods both under their class and at the top level; closures only under
    their function. Duplicates are dropped by (line, name).
    """
    seen: set[tuple[int, str]] = set()
    todo = list(blocks)
    while todo:
        block = todo.pop()
        if hasattr(block, "methods"):  # a class
            todo += [*block.methods, *block.inner_classes]
            continue
        todo += block.closures
        key = (block.lineno, block.fullname)
        if key not in seen:
            seen.add(key)
            yield block


def complexity_violations(display: str, source: str) -> list[str]:
    """`path:line name CC=N (max 15)` for every function over the limit, in line order."""
    over = [f for f in _functions(cc_visit(source)) if f.complexity > MAX_CC]
    over.sort(key=lambda f: (f.lineno, f.fullname))
    return [f"{display}:{f.lineno} {f.fullname} CC={f.complexity} (max {MAX_CC})" for f in over]


def has_size_reason(tree: ast.Module) -> bool:
    """The module docstring has a line `Size: <reason>` (a non-empty reason)."""
    doc = ast.get_docstring(tree) or ""
    return any(
        line.strip().startswith(SIZE_TAG) and line.strip()[len(SIZE_TAG) :].strip()
        for line in doc.splitlines()
    )


def size_violation(display: str, source: str, tree: ast.Module) -> str | None:
    """`path: N lines (…)` when the module is over the limit without a `Size:` reason."""
    lines = len(source.splitlines())
    if lines <= MAX_LINES or has_size_reason(tree):
        return None
    return f'{display}: {lines} lines (max {MAX_LINES}; add a "{SIZE_TAG}" reason)'


def check_source(display: str, source: str) -> list[str]:
    """All violations of one module's text (a syntax error is one violation)."""
    try:
        tree = ast.parse(source, filename=display)
    except SyntaxError as exc:
        return [f"{display}:{exc.lineno or 0} cannot parse: {exc.msg}"]
    found = complexity_violations(display, source)
    size = size_violation(display, source, tree)
    return [size, *found] if size else found


def python_files(paths: Sequence[str]) -> Iterator[Path]:
    """The `*.py` files named or under the named directories, sorted, skipping venvs/caches."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in sorted(path.rglob("*.py")):
                if not SKIP_DIRS.intersection(found.relative_to(path).parts):
                    yield found
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"no such file or directory: {raw}")


def main(argv: Sequence[str] | None = None) -> int:
    """Check the paths (default: the project's code); 0 when clean, 1 on any violation."""
    args = list(sys.argv[1:] if argv is None else argv) or list(DEFAULT_PATHS)
    try:
        files = list(python_files(args))
    except FileNotFoundError as exc:
        print(f"lint_shape: {exc}", file=sys.stderr)
        return 2
    problems: list[str] = []
    for path in files:
        problems += check_source(path.as_posix(), path.read_text(encoding="utf-8"))
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
