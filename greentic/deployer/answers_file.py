"""Read a JSON or YAML answers/manifest file into a mapping, naming file and line on errors.

`.json` → JSON, `.yaml`/`.yml` → YAML, anything else: JSON first, then YAML (upstream's
load_answers). Used by the CLI's `--answers`, by `env-packs add` for pack answers, and by
`env apply` for the manifest and its `answers_ref` files.

These files may come from someone else, so reading is bounded: a regular file only (a FIFO,
`/dev/zero` or a directory is refused without opening it blocking), at most `MAX_BYTES`;
a duplicate key is refused by name (never "last one wins"); YAML aliases are capped in number
and in how much they expand (billion laughs), and may not be recursive; nesting is capped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from greentic.errors import AnswersParseError, InvalidArgument, IoError
from greentic.store.files import MiB, read_regular

MAX_BYTES = MiB
MAX_ALIASES = 100
MAX_ALIAS_EXPANSION = 10_000  # nodes aliases may add on top of the document's own
MERGE_TAG = "tag:yaml.org,2002:merge"


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json `object_pairs_hook`: a key given twice in one object is refused by name."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _expansion(root: Node) -> int:
    """Nodes the tree would have with every alias expanded, minus its distinct nodes;
    a ComposerError for a recursive alias (a node that contains itself)."""
    size: dict[int, int] = {}
    active: set[int] = set()

    def walk(node: Node) -> int:
        key = id(node)
        if key in size:
            return size[key]
        if key in active:
            raise ComposerError(
                None, None, "recursive alias (a node contains itself)", node.start_mark
            )
        active.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            total += sum(walk(child) for child in node.value)
        elif isinstance(node, MappingNode):
            total += sum(walk(k) + walk(v) for k, v in node.value)
        active.discard(key)
        size[key] = total
        return total

    return walk(root) - len(size)


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, too many aliases and alias bombs."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise ComposerError(None, None, f"more than {MAX_ALIASES} aliases (`*name`)", mark)
        return super().compose_node(parent, index)

    def compose_document(self) -> Node | None:
        node: Node | None = super().compose_document()
        if node is not None and _expansion(node) > MAX_ALIAS_EXPANSION:
            raise ComposerError(
                None,
                None,
                f"aliases expand past {MAX_ALIAS_EXPANSION} nodes (an alias bomb)",
                node.start_mark,
            )
        return node

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        """Refuse a scalar key given twice in one mapping, before any merge (`<<`) applies."""
        node: MappingNode = super().compose_mapping_node(anchor)
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == MERGE_TAG:
                continue
            ident = (key_node.tag, key_node.value)
            if ident in seen:
                raise ComposerError(
                    "while composing a mapping",
                    node.start_mark,
                    f"duplicate key `{key_node.value}` (give each key once)",
                    key_node.start_mark,
                )
            seen.add(ident)
        return node


def _json(path: Path, text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        raise AnswersParseError(
            f"invalid json in {path}: duplicate key `{exc.key}` in one object",
            hint="give each key once; which value is meant cannot be guessed",
        ) from None
    except json.JSONDecodeError as exc:
        raise AnswersParseError(
            f"invalid json in {path} at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise AnswersParseError(f"invalid json in {path}: nested too deeply") from None


def _yaml(path: Path, text: str) -> Any:
    try:
        return yaml.load(text, Loader=StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise AnswersParseError(f"invalid yaml in {path}{where}: {problem}") from None
    except RecursionError:
        raise AnswersParseError(f"invalid yaml in {path}: nested too deeply") from None


def parse_text(path: Path, text: str) -> Any:
    """Parse `text` (the content of `path`) by the path's extension."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _json(path, text)
    if suffix in (".yaml", ".yml"):
        return _yaml(path, text)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except (json.JSONDecodeError, RecursionError):
        return _yaml(path, text)
    except _DuplicateKey:
        return _json(path, text)  # words the duplicate


def read_text(path: Path, *, what: str) -> str:
    """The UTF-8 text of the regular file `path`, at most MAX_BYTES (symlinks are followed:
    callers that confine paths resolve them first)."""
    try:
        data = read_regular(
            path, what=what, error=AnswersParseError, cap=MAX_BYTES, follow_symlinks=True
        )
    except FileNotFoundError:
        raise IoError(f"io error on {path}: no such file ({what})") from None
    except OSError as exc:
        raise IoError(f"io error on {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AnswersParseError(
            f"{path} is not UTF-8 text (bad byte at offset {exc.start}); save the {what} as "
            "UTF-8 JSON or YAML"
        ) from None


def load_mapping(path: Path, *, what: str = "answers file") -> dict[str, Any]:
    """The JSON/YAML object in `path`; IoError when unreadable, AnswersParseError when bad."""
    doc = parse_text(path, read_text(path, what=what))
    if not isinstance(doc, dict):
        raise AnswersParseError(f"{path}: the {what} must hold a JSON/YAML object (a mapping)")
    return doc


def confine(
    ref: str, *, base: Path, what: str, verb: str, allow_outside: bool, also: Path | None = None
) -> Path:
    """Where the path `ref`, named inside a document in `base`, points (relative to `base`).

    Unless `allow_outside`, it must resolve (symlinks followed) inside `base` or `also`: a
    manifest someone hands you must not make `verb` copy e.g. ~/.ssh or a 0600 credentials
    file into the store. The refusal names the resolved path and both ways out."""
    given = Path(ref)
    path = given if given.is_absolute() else base / given
    if allow_outside:
        return path
    real = path.resolve()
    roots = [base.resolve()] + ([also.resolve()] if also is not None else [])
    if any(real.is_relative_to(root) for root in roots):
        return path
    raise InvalidArgument(
        f"{what} `{ref}` resolves to {real}, outside the directory {roots[0]} of the file "
        "that names it",
        hint=f"move the file into {roots[0]} and name it relative to it, or pass "
        f"--allow-outside to `{verb}` to read it from where it is",
    )
