"""Read a JSON or YAML answers/manifest file into a mapping, naming file and line on errors.

`.json` → JSON, `.yaml`/`.yml` → YAML, anything else: JSON first, then YAML (upstream's
load_answers). Used by the CLI's `--answers`, by `env-packs add` for pack answers, and by
`env apply` for the manifest and its `answers_ref` files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from greentic.errors import AnswersParseError, IoError


def _json(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnswersParseError(
            f"invalid json in {path} at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


def _yaml(path: Path, text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise AnswersParseError(f"invalid yaml in {path}{where}: {problem}") from None


def parse_text(path: Path, text: str) -> Any:
    """Parse `text` (the content of `path`) by the path's extension."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _json(path, text)
    if suffix in (".yaml", ".yml"):
        return _yaml(path, text)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return _yaml(path, text)


def load_mapping(path: Path, *, what: str = "answers file") -> dict[str, Any]:
    """The JSON/YAML object in `path`; IoError when unreadable, AnswersParseError when bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IoError(f"io error on {path}: no such file ({what})") from None
    except IsADirectoryError:
        raise IoError(f"io error on {path}: is a directory, expected a {what}") from None
    except UnicodeDecodeError as exc:
        raise AnswersParseError(
            f"{path} is not UTF-8 text (bad byte at offset {exc.start}); save the {what} as "
            "UTF-8 JSON or YAML"
        ) from None
    except OSError as exc:
        raise IoError(f"io error on {path}: {exc.strerror or exc}") from None
    doc = parse_text(path, text)
    if not isinstance(doc, dict):
        raise AnswersParseError(f"{path}: the {what} must hold a JSON/YAML object (a mapping)")
    return doc
