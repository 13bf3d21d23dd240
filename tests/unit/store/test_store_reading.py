"""`greentic.store.reading.show` (the pydantic-free `env show`) against the Store's loaders.

For a healthy env and for every kind of hand edit (bad JSON, schema breaks, cross-document
rules, a directory name mismatch, a runtime-config ref escaping the env, a symlink), the
read-only path gives what `Store.load` + `Store.load_runtime_config` give: the same documents
in `to_json_dict()` form, or the same error (class, message, hint).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from greentic.errors import GreenticError
from greentic.store import reading
from greentic.store.envstore import Store
from tests.support.stores import new_env

DIGEST = "sha256:" + "b" * 64
Edit = Callable[[Path], None]


def the_store_says(store: Store, env_id: str) -> Any:
    try:
        env = store.load(env_id)
        rc = store.load_runtime_config(env_id)
    except GreenticError as exc:
        return type(exc).__name__, exc.message, exc.hint
    return {"environment": env.to_json_dict(), "runtime": rc.to_json_dict() if rc else None}


def reading_says(store: Store, env_id: str) -> Any:
    try:
        return reading.show(store.root, env_id)
    except GreenticError as exc:
        return type(exc).__name__, exc.message, exc.hint


def edit_json(name: str, change: Callable[[dict[str, Any]], None]) -> Edit:
    def apply(env_dir: Path) -> None:
        path = env_dir / name
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(doc))

    return apply


def write(name: str, text: str) -> Edit:
    return lambda env_dir: (env_dir / name).write_text(text)


def symlinked(name: str) -> Edit:
    def apply(env_dir: Path) -> None:
        target = env_dir.parent / f"elsewhere-{name}"
        (env_dir / name).rename(target)
        (env_dir / name).symlink_to(target)

    return apply


EDITS: dict[str, Edit] = {
    "untouched": lambda _dir: None,
    "no runtime-config": lambda env_dir: (env_dir / "runtime-config.json").unlink(),
    "env not JSON": write("environment.json", "{not json"),
    "env a list": write("environment.json", "[]"),
    "unknown key": edit_json("environment.json", lambda d: d.update(surprise=1)),
    "bad slot": edit_json(
        "environment.json", lambda d: d.update(packs=[{"slot": "x", "kind": "k", "pack_ref": "p"}])
    ),
    "weights off": edit_json(
        "environment.json", lambda d: d["traffic_splits"][0]["entries"][0].update(weight_bps=1)
    ),
    "foreign revision": edit_json(
        "environment.json", lambda d: d["revisions"][0].update(env_id="other")
    ),
    "host env mismatch": edit_json(
        "environment.json", lambda d: d["host_config"].update(env_id="other")
    ),
    "rc not JSON": write("runtime-config.json", "nope"),
    "rc weights": edit_json(
        "runtime-config.json", lambda d: d["revisions"][0].update(weight_bps=10)
    ),
    "rc escapes": edit_json(
        "runtime-config.json",
        lambda d: d["revisions"][0].update(pack_list_refs=["../../outside"]),
    ),
    "rc other env": edit_json("runtime-config.json", lambda d: d.update(env_id="zz")),
    "env symlinked": symlinked("environment.json"),
    "rc symlinked": symlinked("runtime-config.json"),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_show_reads_as_the_store_does(tmp_path: Path, edit: str) -> None:
    store = Store(tmp_path / "store")
    new_env(store, [DIGEST], env_id="e1")
    EDITS[edit](store.paths("e1").dir)
    assert reading_says(store, "e1") == the_store_says(store, "e1")


def test_a_missing_env_is_the_same_not_found(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    assert reading_says(store, "absent") == the_store_says(store, "absent")
    assert reading_says(store, "absent")[0] == "NotFound"


def test_an_env_in_another_env_s_directory_is_the_same_mismatch(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    new_env(store, [DIGEST], env_id="e1")
    store.paths("e1").dir.rename(store.paths("e2").dir)
    assert reading_says(store, "e2") == the_store_says(store, "e2")
    assert "does not match directory `e2`" in reading_says(store, "e2")[1]
