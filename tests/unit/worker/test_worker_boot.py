"""The boot seam: presence checks, the pull plan, fail-closed pulls and activation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from greentic.errors import DigestMismatch, FetchError, NotFound, SpecError, StoreError
from greentic.spec.runtime_config import project
from greentic.store import atomic
from greentic.store.envstore import Store
from greentic.worker import boot
from greentic.worker.logs import MemoryLog

from .envs import DIGESTS, FIXTURES, EnvBuilder, fixture_env, save_cold


def test_missing_env_dir_and_missing_environment_json(store_root: Path) -> None:
    store = Store(store_root)
    with pytest.raises(NotFound, match=r"no environment `nope` in the store at .*no directory"):
        boot.boot(store, "nope", MemoryLog())
    (store_root / "bare").mkdir()
    with pytest.raises(NotFound) as err:
        boot.boot(store, "bare", MemoryLog())
    assert str(err.value).startswith(f"{store_root / 'bare' / 'environment.json'} is missing")
    assert err.value.hint is not None


def test_invalid_environment_json_names_the_path(store_root: Path) -> None:
    path = store_root / "local" / "environment.json"
    path.parent.mkdir()
    path.write_text("{ nope")
    with pytest.raises(StoreError, match=str(path)):
        boot.boot(Store(store_root), "local", MemoryLog())
    path.write_text('{"schema": "greentic.environment.v1"}')
    with pytest.raises(SpecError, match=str(path)):
        boot.boot(Store(store_root), "local", MemoryLog())


def test_pull_plan_is_routed_revisions_with_a_source_in_env_order() -> None:
    b = EnvBuilder()
    dep = b.deployment("bot")
    idle = b.revision(dep, 0, uri="http://x/idle")
    routed = b.revision(dep, 6000, uri="http://x/a")
    b.revision(dep, 4000)  # routed, no source: skipped
    other = b.deployment("api", prefixes=("/api",))
    api = b.revision(other, 10000, uri="http://x/b")
    env = b.build()
    assert [r.revision_id for r in boot.pull_plan(env)] == [routed, api]
    assert idle not in [r.revision_id for r in boot.pull_plan(env)]


def test_cold_boot_pulls_materializes_and_activates(store_root: Path) -> None:
    store = Store(store_root)
    env = fixture_env("webchat-bot")
    save_cold(store, env)
    log = MemoryLog()
    booted = boot.boot(store, "local", log)
    assert booted.pulled == 1
    assert booted.activation.revisions_active == 1
    rev = env.revisions[0].revision_id
    assert (store.paths("local").revision_dir(rev) / "pack-list.lock").is_file()
    assert store.paths("local").runtime_config.is_file()
    revision = booted.activation.deployments[0].revisions[0]
    out = revision.run({"input": {"text": "hi"}}, state={})
    assert out.output == [{"text": "Hello from webchat-bot! You said: hi"}]
    messages = [m for _, m in log.lines]
    assert any(
        "materialized 1 revision(s) from bundle sources for env `local`" in m for m in messages
    )


def test_cold_boot_serves_what_materialize_returned_without_reading_the_store(
    store_root: Path,
) -> None:
    from greentic.bundle.materialize import MaterializedRevision, materialize_revision
    from greentic.fetch import FetchedBundle

    store = Store(store_root)
    save_cold(store, fixture_env("webchat-bot"))
    returned: list[MaterializedRevision] = []

    def materialize_then_drop_the_files(
        store: Store, env_id: str, revision_id: str, fetched: FetchedBundle
    ) -> MaterializedRevision:
        done = materialize_revision(store, env_id, revision_id, fetched)
        returned.append(done)
        store.paths(env_id).runtime_config.unlink()  # a re-read would now find nothing routed
        store.paths(env_id).environment.write_text("{ not json")  # ... or fail to parse
        return done

    booted = boot.boot(store, "local", MemoryLog(), materialize=materialize_then_drop_the_files)
    assert (booted.pulled, booted.activation.revisions_active) == (1, 1)
    assert booted.env is returned[0].environment


def test_warm_boot_imports_neither_fetch_nor_materialize(store_root: Path) -> None:
    store = Store(store_root)
    save_cold(store, fixture_env("webchat-bot"))
    boot.boot(store, "local", MemoryLog())
    code = (
        "import sys; from pathlib import Path\n"
        "from greentic.store.envstore import Store\n"
        "from greentic.worker import boot\n"
        "from greentic.worker.logs import MemoryLog\n"
        f"boot.boot(Store(Path({str(store_root)!r})), 'local', MemoryLog())\n"
        "print(sorted(m for m in sys.modules if m.startswith(('greentic.fetch', "
        "'greentic.bundle.materialize', 'httpx'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_warm_boot_does_not_pull(store_root: Path) -> None:
    store = Store(store_root)
    save_cold(store, fixture_env("webchat-bot"))
    boot.boot(store, "local", MemoryLog())

    def no_fetch(uri: str, dest_dir: Path, *, max_bytes: int) -> Any:
        raise AssertionError("a populated runtime-config must not pull")

    again = boot.boot(store, "local", MemoryLog(), fetch=no_fetch)
    assert (again.pulled, again.activation.revisions_active) == (0, 1)


def test_nothing_routed_is_probes_only(store_root: Path) -> None:
    store = Store(store_root)
    save_cold(store, EnvBuilder().build())
    booted = boot.boot(store, "local", MemoryLog())
    assert (booted.pulled, booted.activation.revisions_active) == (0, 0)


def test_digest_mismatch_fails_closed_and_keeps_the_earlier_revision(store_root: Path) -> None:
    store = Store(store_root)
    env = fixture_env("webchat-bot")
    save_cold(store, env)
    boot.boot(store, "local", MemoryLog())  # materializes the real revision
    paths = store.paths("local")
    rev = env.revisions[0].revision_id
    lock_before = (paths.revision_dir(rev) / "pack-list.lock").read_bytes()
    atomic.write_json(
        paths.runtime_config,
        {"schema": "greentic.runtime-config.v1", "env_id": "local", "revisions": []},
    )
    tampered = FIXTURES / "perf-smoke.gtbundle"  # right URI, wrong bytes

    def serve_tampered(uri: str, dest_dir: Path, *, max_bytes: int) -> Any:
        from greentic import fetch

        return fetch.fetch(tampered.as_uri(), dest_dir, max_bytes=max_bytes)

    with pytest.raises(DigestMismatch) as err:
        boot.boot(store, "local", MemoryLog(), fetch=serve_tampered)
    assert str(err.value) == (
        f"pulled bundle digest `{DIGESTS['perf-smoke.gtbundle']}` does not match revision "
        f"`{rev}`'s pinned `{DIGESTS['webchat-bot.gtbundle']}`; refusing to serve unpinned bytes"
    )
    assert not paths.runtime_config.exists()
    assert (paths.revision_dir(rev) / "pack-list.lock").read_bytes() == lock_before


def test_fetch_errors_fail_closed(store_root: Path) -> None:
    store = Store(store_root)
    save_cold(store, fixture_env("webchat-bot", uri="http://127.0.0.1:9/none.gtbundle"))
    paths = store.paths("local")

    def unreachable(uri: str, dest_dir: Path, *, max_bytes: int) -> Any:
        raise FetchError(f"cannot fetch {uri}: connection refused")

    atomic.write_json(
        paths.runtime_config,
        {"schema": "greentic.runtime-config.v1", "env_id": "local", "revisions": []},
    )
    with pytest.raises(FetchError, match="connection refused"):
        boot.boot(store, "local", MemoryLog(), fetch=unreachable)
    assert not paths.runtime_config.exists()

    def disk_error(uri: str, dest_dir: Path, *, max_bytes: int) -> Any:
        raise OSError(28, "No space left on device")

    with pytest.raises(FetchError, match="No space left on device"):
        boot.boot(store, "local", MemoryLog(), fetch=disk_error)


def test_routed_revision_that_was_never_materialized_is_a_clear_error(store_root: Path) -> None:
    store = Store(store_root)
    b = EnvBuilder()
    b.revision(b.deployment("bot"))  # no bundle_source_uri, nothing on disk
    env = b.build()
    save_cold(store, env)
    atomic.write_json(store.paths("local").runtime_config, project(env).to_json_dict())
    with pytest.raises(SpecError, match=r"pack list `revisions/.*` does not resolve"):
        boot.boot(store, "local", MemoryLog())


def test_source_credentials_never_reach_the_log(store_root: Path) -> None:
    store = Store(store_root)
    save_cold(store, fixture_env("webchat-bot", uri="https://bot:s3cret@dist.example/b.gtbundle"))

    def refuse(uri: str, dest_dir: Path, *, max_bytes: int) -> Any:
        raise OSError(111, "Connection refused")

    log = MemoryLog()
    with pytest.raises(FetchError) as err:
        boot.boot(store, "local", log, fetch=refuse)
    assert "s3cret" not in str(err.value)
    assert "https://***@dist.example/b.gtbundle" in str(err.value)
    assert log.lines
    assert not any("s3cret" in message for _, message in log.lines)
