"""Issue #12 items 11 and 13 for the store: files private, symlinks refused by name.

Everything the store, the env lock and the operator key create is 0600/0700 whatever the
umask; a symlink planted for environment.json, runtime-config.json, audit/events.jsonl,
.lock, the env dir or a staged-answers dir is refused (never followed, nothing written
outside), and the CLI turns that into one `store` error line naming the path.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from greentic.cli.main import gtc
from greentic.deployer import env, env_packs
from greentic.errors import StoreError
from greentic.spec.environment import Environment, HostConfig
from greentic.store.envstore import Store


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(autouse=True)
def _wide_umask(operator_key: Path) -> Iterator[None]:
    """The default umask that made everything 0644/0755 before."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "home" / ".greentic" / "environments")  # nothing exists yet


def _env(env_id: str = "local") -> Environment:
    return Environment(environment_id=env_id, name=env_id, host_config=HostConfig(env_id=env_id))


def _bind(store: Store, answers: Path) -> None:
    p = env_packs.EnvPackAddPayload(
        environment_id="local",
        slot="deployer",
        kind="greentic.deployer.k8s@1.0.0",
        pack_ref="builtin",
        answers_ref=str(answers),
    )
    env_packs.bind(store, p, base_dir=answers.parent)


def test_everything_the_store_creates_is_private(store: Store, tmp_path: Path) -> None:
    env.init(store, env.EnvInitPayload())
    answers = tmp_path / "deployer-answers.json"
    answers.write_text(json.dumps({"tunnel": "off"}))
    _bind(store, answers)
    p = store.paths("local")
    for d in (tmp_path / "home" / ".greentic", store.root, p.dir, p.audit.parent):
        assert mode(d) == 0o700, d
    for f in (p.environment, p.audit, p.dir / ".lock", p.trust_root, p.pack_answers("deployer")):
        assert mode(f) == 0o600, f
    assert mode(p.pack_answers("deployer").parent) == 0o700


def test_the_operator_key_dir_is_private(operator_key: Path) -> None:
    from greentic.trust import operator_key as mint

    mint(create=True)
    assert mode(operator_key.parent) == 0o700 and mode(operator_key) == 0o600


def _outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside.txt"
    target.write_text("untouched\n")
    return target


def test_a_symlinked_audit_log_is_refused(store: Store, tmp_path: Path) -> None:
    with store.create(_env(), verb="test"):
        pass
    target = _outside(tmp_path)
    audit = store.paths("local").audit
    audit.unlink()
    audit.symlink_to(target)
    with pytest.raises(StoreError, match=f"{audit} is a symlink"), store.mutate("local", verb="x"):
        pass
    assert target.read_text() == "untouched\n"


def test_a_symlinked_audit_dir_is_refused(store: Store, tmp_path: Path) -> None:
    with store.create(_env(), verb="test"):
        pass
    audit_dir = store.paths("local").audit.parent
    (audit_dir / "events.jsonl").unlink()
    audit_dir.rmdir()
    (tmp_path / "elsewhere").mkdir()
    audit_dir.symlink_to(tmp_path / "elsewhere")
    refused = pytest.raises(StoreError, match=f"{audit_dir} is a symlink")
    with refused, store.mutate("local", verb="x"):
        pass
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_symlinked_lock_file_is_refused(store: Store, tmp_path: Path) -> None:
    with store.create(_env(), verb="test"):
        pass
    lock = store.paths("local").dir / ".lock"
    lock.unlink()
    lock.symlink_to(tmp_path / "created-by-the-lock")
    refused = pytest.raises(StoreError, match=r"\.lock is a symlink")
    with refused as info, store.mutate("local", verb="x"):
        pass
    assert "delete" in (info.value.hint or "")
    assert not (tmp_path / "created-by-the-lock").exists()


def test_a_symlinked_environment_json_is_refused(store: Store, tmp_path: Path) -> None:
    with store.create(_env(), verb="test"):
        pass
    p = store.paths("local")
    real = tmp_path / "environment.json"
    real.write_bytes(p.environment.read_bytes())
    p.environment.unlink()
    p.environment.symlink_to(real)
    with pytest.raises(StoreError, match=f"{p.environment} is a symlink"):
        store.load("local")


def test_a_symlinked_env_dir_is_refused(store: Store, tmp_path: Path) -> None:
    with store.create(_env("real"), verb="test"):
        pass
    (store.root / "local").symlink_to(store.paths("real").dir)
    refused = pytest.raises(StoreError, match="local is a symlink")
    with refused, store.create(_env(), verb="test"):
        pass


def test_a_symlinked_staged_answers_dir_is_refused(store: Store, tmp_path: Path) -> None:
    env.init(store, env.EnvInitPayload())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (store.paths("local").dir / "env-packs").symlink_to(elsewhere)
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps({"tunnel": "off"}))
    with pytest.raises(StoreError, match="env-packs is a symlink"):
        _bind(store, answers)
    assert list(elsewhere.iterdir()) == []


def test_the_cli_names_the_symlink_in_one_store_line(store: Store, tmp_path: Path) -> None:
    env.init(store, env.EnvInitPayload())
    p = store.paths("local")
    real = tmp_path / "environment.json"
    real.write_bytes(p.environment.read_bytes())
    p.environment.unlink()
    p.environment.symlink_to(real)
    r = CliRunner().invoke(gtc, ["op", "--store-root", str(store.root), "env", "show", "local"])
    assert r.exit_code == 1 and r.stdout == ""
    error = json.loads(r.stderr.splitlines()[-1])["error"]
    assert error["kind"] == "store" and str(p.environment) in error["message"]
    assert "symlink" in error["message"] and error["hint"]
