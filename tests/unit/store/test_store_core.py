"""The store core: env-id rules, atomic writes, lock-held mutations, runtime-config projection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greentic.errors import Conflict, InvalidArgument, NotFound, SpecError
from greentic.spec.environment import Environment, HostConfig
from greentic.store import atomic
from greentic.store.envstore import Store
from greentic.store.layout import valid_env_id


def env(env_id: str = "local") -> Environment:
    return Environment(environment_id=env_id, name=env_id, host_config=HostConfig(env_id=env_id))


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a b", "é", "a:b"])
def test_bad_env_ids(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        valid_env_id(bad)


@pytest.mark.parametrize("good", ["local", "Prod.EU_west", "a-b", "..."])
def test_good_env_ids(good: str) -> None:
    assert valid_env_id(good) == good


def test_create_load_mutate(store_root: Path) -> None:
    store = Store(store_root)
    with store.create(env(), verb="test"):
        pass
    with pytest.raises(Conflict), store.create(env(), verb="test"):
        pass
    with store.mutate("local", verb="rename") as e:
        e.name = "renamed"
    assert store.load("local").name == "renamed"
    text = store.paths("local").environment.read_text()
    assert text.endswith("}\n") and text.startswith("{\n  ")
    audit = store.paths("local").audit.read_text().splitlines()
    assert [json.loads(a)["verb"] for a in audit] == ["test", "rename"]


def test_missing_env_is_not_found(store_root: Path) -> None:
    with pytest.raises(NotFound, match="environment `x` not found"):
        Store(store_root).load("x")


def test_invalid_mutation_writes_nothing(store_root: Path) -> None:
    store = Store(store_root)
    with store.create(env(), verb="test"):
        pass
    before = store.paths("local").environment.read_bytes()
    with pytest.raises(SpecError), store.mutate("local", verb="bad") as e:
        e.host_config.env_id = "other"
    assert store.paths("local").environment.read_bytes() == before


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "d" / "f.json"
    atomic.write_json(target, {"a": 1})
    atomic.write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def test_directory_name_must_match(store_root: Path) -> None:
    store = Store(store_root)
    with store.create(env(), verb="test"):
        pass
    (store_root / "other").mkdir()
    (store_root / "other" / "environment.json").write_bytes(
        store.paths("local").environment.read_bytes()
    )
    with pytest.raises(SpecError, match="does not match directory"):
        store.load("other")
