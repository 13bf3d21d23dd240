from __future__ import annotations

import json
from pathlib import Path

import pytest

from greentic.deployer.k8s import inputs, render
from greentic.deployer.k8s.errors import InvalidAnswers
from greentic.errors import Conflict, NotFound
from greentic.spec.environment import Environment, EnvPackBinding
from greentic.store.envstore import Store

from . import envs


def save(root: Path, env: Environment, answers: object | None = None) -> Store:
    store = Store(root)
    with store.create(env, verb="test"):
        pass
    if answers is not None:
        (store.paths(env.environment_id).dir / "deployer-answers.json").write_text(
            json.dumps(answers)
        )
    return store


def test_loads_seed_000_env(store_root: Path) -> None:
    store = save(
        store_root,
        envs.webchat_env(),
        {"runtime_image": "ghcr.io/x/y:develop", "tunnel": "cloudflared"},
    )
    secrets = store.paths("local").dev_secrets
    secrets.parent.mkdir(parents=True)
    secrets.write_bytes(b"sealed")
    got = inputs.load(store, "local")
    assert got.env == envs.webchat_env()
    assert got.env_json == store.paths("local").environment.read_text()
    assert (
        got.answers.runtime_image == "ghcr.io/x/y:develop" and got.answers.tunnel == "cloudflared"
    )
    assert got.dev_store == b"sealed"
    objs = render.render(got)
    assert len(objs) == 15
    assert objs[1]["data"]["environment.json"] == got.env_json  # type: ignore[typeddict-item]


def test_dev_store_is_not_read_without_secrets_slot(store_root: Path) -> None:
    store = save(store_root, envs.m2_env(), {})
    secrets = store.paths("local").dev_secrets
    secrets.parent.mkdir(parents=True)
    secrets.write_bytes(b"sealed")
    assert inputs.load(store, "local").dev_store is None


def test_missing_dev_store_file_is_none(store_root: Path) -> None:
    store = save(store_root, envs.webchat_env(), {})
    assert inputs.load(store, "local").dev_store is None


def test_no_answers_ref_means_defaults(store_root: Path) -> None:
    env = envs.m2_env()
    env.packs = [
        EnvPackBinding(slot="deployer", kind="greentic.deployer.k8s@1.0.0", pack_ref="builtin")
    ]
    store = save(store_root, env)
    assert inputs.load(store, "local").answers.runtime_image == "greentic-runtime:local"


def test_unknown_env(store_root: Path) -> None:
    with pytest.raises(NotFound, match="environment `nope` not found"):
        inputs.load(Store(store_root), "nope")


def test_env_without_deployer_binding(store_root: Path) -> None:
    env = envs.m2_env()
    env.packs = []
    store = save(store_root, env)
    with pytest.raises(Conflict) as info:
        inputs.load(store, "local")
    assert "has no deployer binding" in str(info.value)
    assert "op env-packs add slot=deployer kind=greentic.deployer.k8s@1.0.0" in str(info.value)


def test_env_bound_to_another_deployer(store_root: Path) -> None:
    env = envs.m2_env()
    env.packs = [
        EnvPackBinding(
            slot="deployer", kind="greentic.deployer.local-process@0.1.0", pack_ref="builtin"
        )
    ]
    store = save(store_root, env)
    with pytest.raises(
        Conflict, match=r"bound to deployer `greentic\.deployer\.local-process@0\.1\.0`"
    ):
        inputs.load(store, "local")


def test_unsupported_version(store_root: Path) -> None:
    env = envs.m2_env()
    env.packs = [
        EnvPackBinding(slot="deployer", kind="greentic.deployer.k8s@2.0.0", pack_ref="builtin")
    ]
    with pytest.raises(Conflict, match=r"pins version `2\.0\.0`"):
        inputs.load(save(store_root, env), "local")


def test_answers_ref_missing(store_root: Path) -> None:
    store = save(store_root, envs.m2_env())
    with pytest.raises(Conflict) as info:
        inputs.load(store, "local")
    assert str(info.value) == (
        "binding records answers_ref `deployer-answers.json` but the file does not exist — "
        "re-run the binding wizard or fix the binding"
    )


def test_answers_ref_escaping(store_root: Path) -> None:
    env = envs.m2_env()
    env.packs = [
        EnvPackBinding(
            slot="deployer",
            kind="greentic.deployer.k8s@1.0.0",
            pack_ref="builtin",
            answers_ref="../outside.json",
        )
    ]
    (store_root / "outside.json").write_text("{}")
    with pytest.raises(Conflict, match=r"answers_ref `../outside.json` escapes env directory"):
        inputs.load(save(store_root, env), "local")


def test_answers_ref_invalid_json(store_root: Path) -> None:
    store = save(store_root, envs.m2_env())
    (store.paths("local").dir / "deployer-answers.json").write_text("{nope")
    with pytest.raises(
        Conflict, match=r"answers_ref `deployer-answers\.json` contains invalid JSON"
    ):
        inputs.load(store, "local")


def test_invalid_answers_name_the_file(store_root: Path) -> None:
    store = save(store_root, envs.m2_env(), {"router_replicas": 1})
    with pytest.raises(InvalidAnswers) as info:
        inputs.load(store, "local")
    assert (
        str(info.value)
        == "invalid binding answers: router_replicas must be >= 2 (HA requirement), got 1"
    )
    assert "deployer-answers.json" in (info.value.hint or "")
