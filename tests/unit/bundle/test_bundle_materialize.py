"""materialize_revision: digest gate, layout, env update, and all-or-nothing on any error."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bundle_testlib import Pulled, fixture

from greentic.bundle import materialize, reader
from greentic.bundle.digest import sha256_file
from greentic.errors import Conflict, DigestMismatch, NotFound, SpecError, TrustRootError
from greentic.spec.pack_list_lock import PackListLock
from greentic.store.envstore import Store
from tests.support.stores import ENV, new_env, tree

V1 = "webchat-bot.gtbundle"
V2 = "webchat-bot-v2.gtbundle"


def revisions_dir(store: Store) -> Path:
    return store.paths(ENV).dir / "revisions"


@pytest.fixture
def hook() -> Iterator[Callable[[Callable[[str], None] | None], None]]:
    def set_hook(fn: Callable[[str], None] | None) -> None:
        materialize._on_step = fn

    yield set_hook
    materialize._on_step = None


def test_materializes_layout_lock_configs_and_runtime_config(store: Store) -> None:
    [rev] = new_env(store, [sha256_file(fixture(V1))])
    result = materialize.materialize_revision(store, ENV, rev, Pulled(fixture(V1)))

    rdir = revisions_dir(store) / rev
    assert result.dir == rdir
    assert (rdir / "bundle.gtbundle").read_bytes() == fixture(V1).read_bytes()
    assert (rdir / "bundle" / "bundle-manifest.json").is_file()
    lock = PackListLock.model_validate_json((rdir / "pack-list.lock").read_bytes())
    assert lock.to_json_dict() == {
        "schema": "greentic.pack-list-lock.v1",
        "revision_id": rev,
        "packs": [
            {
                "pack_id": "webchat-bot",
                "path": f"revisions/{rev}/bundle/packs/webchat-bot.gtpack",
                "digest": sha256_file(rdir / "bundle" / "packs" / "webchat-bot.gtpack"),
            }
        ],
    }
    config = json.loads((rdir / "pack-configs" / "webchat-bot.json").read_text())
    assert config == {
        "schema": "greentic.pack-config.v1",
        "pack_id": "webchat-bot",
        "revision_id": rev,
        "non_secret": {"greeting": "Hello from webchat-bot!"},
        "secret_refs": {},
        "runtime_refs": {},
    }
    env = store.load(ENV)
    saved = env.revision(rev)
    assert saved is not None
    assert [(p.pack_id, p.version) for p in saved.pack_list] == [("webchat-bot", "1.0.0")]
    assert saved.pack_config_refs == [f"revisions/{rev}/pack-configs/webchat-bot.json"]
    rc = store.load_runtime_config(ENV)
    assert rc is not None
    assert rc.revisions[0].pack_config_refs == saved.pack_config_refs
    assert rc.revisions[0].pack_list_refs == [f"revisions/{rev}/pack-list.lock"]
    assert result.environment.to_json_dict() == env.to_json_dict()  # what was committed
    assert result.runtime_config == rc

    [pack] = reader.load_revision_packs(rdir)
    assert (pack.pack_id, pack.version) == ("webchat-bot", "1.0.0")
    assert "Hello from webchat-bot! You said:" in pack.flows["main"]
    assert (
        pack.config is not None
        and pack.config["non_secret"]["greeting"] == "Hello from webchat-bot!"
    )
    assert [p.name for p in revisions_dir(store).iterdir()] == [rev]


def test_wrong_digest_is_refused_with_the_exact_text_and_the_earlier_revision_survives(
    store: Store, copy_fixture: Callable[[str], Path]
) -> None:
    pinned_v2 = sha256_file(fixture(V2))
    rev1, rev2 = new_env(store, [sha256_file(fixture(V1)), pinned_v2])
    materialize.materialize_revision(store, ENV, rev1, Pulled(fixture(V1)))
    before = tree(revisions_dir(store))
    env_before = store.paths(ENV).environment.read_bytes()

    tampered = copy_fixture(V2)
    tampered.write_bytes(tampered.read_bytes() + b"\0")
    with pytest.raises(DigestMismatch) as err:
        materialize.materialize_revision(store, ENV, rev2, Pulled(tampered))
    got = sha256_file(tampered)
    assert err.value.message == (
        f"pulled bundle digest `{got}` does not match revision `{rev2}`'s pinned `{pinned_v2}`; "
        "refusing to serve unpinned bytes"
    )
    assert err.value.kind == "fetch"
    assert sorted(p.name for p in revisions_dir(store).iterdir()) == [rev1]
    assert tree(revisions_dir(store)) == before
    assert store.paths(ENV).environment.read_bytes() == env_before
    assert reader.load_revision_packs(revisions_dir(store) / rev1)[0].version == "1.0.0"


def test_re_materializing_with_tampered_bytes_keeps_the_old_copy(
    store: Store, copy_fixture: Callable[[str], Path]
) -> None:
    [rev] = new_env(store, [sha256_file(fixture(V1))])
    materialize.materialize_revision(store, ENV, rev, Pulled(fixture(V1)))
    before = tree(revisions_dir(store))
    with pytest.raises(DigestMismatch):
        materialize.materialize_revision(store, ENV, rev, Pulled(fixture(V2)))
    assert tree(revisions_dir(store)) == before
    assert [p.name for p in revisions_dir(store).iterdir()] == [rev]


def test_re_materializing_the_same_bytes_is_a_clean_replace(store: Store) -> None:
    [rev] = new_env(store, [sha256_file(fixture(V1))])
    materialize.materialize_revision(store, ENV, rev, Pulled(fixture(V1)))
    first = tree(revisions_dir(store))
    materialize.materialize_revision(store, ENV, rev, Pulled(fixture(V1)))
    assert tree(revisions_dir(store)) == first
    assert [p.name for p in revisions_dir(store).iterdir()] == [rev]


@pytest.mark.parametrize("step", materialize.STEPS)
@pytest.mark.parametrize("had_old", [True, False], ids=["replacing", "first"])
def test_an_error_at_any_step_restores_the_starting_state(
    step: str, had_old: bool, store: Store, hook: Callable[[Callable[[str], None] | None], None]
) -> None:
    [rev] = new_env(store, [sha256_file(fixture(V1))])
    if had_old:
        materialize.materialize_revision(store, ENV, rev, Pulled(fixture(V1)))
    before = tree(revisions_dir(store))
    env_before = store.paths(ENV).environment.read_bytes()

    def boom(name: str) -> None:
        if name == step:
            raise RuntimeError(f"injected at {name}")

    hook(boom)
    if step == "aside" and not had_old:
        materialize.materialize_revision(store, ENV, rev, Pulled(fixture(V1)))  # no aside step
        return
    with pytest.raises(RuntimeError, match=f"injected at {step}"):
        materialize.materialize_revision(store, ENV, rev, Pulled(fixture(V1)))
    hook(None)
    if step == "committed":  # past the commit point: the new revision stands
        materialize.recover(store, ENV)
        assert [p.name for p in revisions_dir(store).iterdir()] == [rev]
        assert reader.load_revision_packs(revisions_dir(store) / rev)[0].version == "1.0.0"
        saved = store.load(ENV).revision(rev)
        assert saved is not None and saved.pack_list
        return
    assert tree(revisions_dir(store)) == before
    assert store.paths(ENV).environment.read_bytes() == env_before
    names = (
        [p.name for p in revisions_dir(store).iterdir()] if revisions_dir(store).exists() else []
    )
    assert names == ([rev] if had_old else [])


def test_recover_resolves_leftovers(store: Store) -> None:
    [rev] = new_env(store, [sha256_file(fixture(V1))])
    materialize.materialize_revision(store, ENV, rev, Pulled(fixture(V1)))
    revs = revisions_dir(store)
    good = tree(revs / rev)
    # crash between the two renames: only the aside holds the complete revision
    (revs / rev).rename(revs / f"{rev}.aside")
    (revs / f"{rev}.partial" / "bundle").mkdir(parents=True)
    (revs / f"{rev}.partial" / "bundle.gtbundle").write_bytes(b"half")
    # crash after the swap: final is complete, a stale aside is left
    other = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    (revs / other).mkdir()
    (revs / other / "x").write_text("new")
    (revs / f"{other}.aside").mkdir()
    (revs / f"{other}.aside" / "x").write_text("old, half deleted")

    done = materialize.recover(store, ENV)
    assert done == {rev: "dropped partial, restored aside", other: "dropped aside"}
    assert sorted(p.name for p in revs.iterdir()) == sorted([rev, other])
    assert tree(revs / rev) == good
    assert (revs / other / "x").read_text() == "new"
    assert materialize.recover(store, ENV) == {}


def test_unknown_revision_and_diverging_lock_ref(store: Store) -> None:
    [rev] = new_env(store, [sha256_file(fixture(V1))])
    with pytest.raises(
        NotFound, match="revision `01ARZ3NDEKTSV4RRFFQ69G5FAV` not found in env `e1`"
    ):
        materialize.materialize_revision(
            store, ENV, "01ARZ3NDEKTSV4RRFFQ69G5FAV", Pulled(fixture(V1))
        )
    with store.mutate(ENV, verb="test") as env:
        r = env.revision(rev)
        assert r is not None
        r.pack_list_lock_ref = "revisions/elsewhere/pack-list.lock"
    with pytest.raises(Conflict, match="diverges from revision"):
        materialize.materialize_revision(store, ENV, rev, Pulled(fixture(V1)))
    with pytest.raises(NotFound, match="environment `nope` not found"):
        materialize.materialize_revision(store, "nope", rev, Pulled(fixture(V1)))


def test_required_signatures_refuse_an_unsigned_bundle(store: Store) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from greentic.bundle import signing

    key = signing.trusted_key(Ed25519PrivateKey.generate().public_key())
    [rev] = new_env(store, [sha256_file(fixture(V1))])
    with pytest.raises(TrustRootError, match="pack `webchat-bot` is unsigned"):
        materialize.materialize_revision(store, ENV, rev, Pulled(fixture(V1)), trusted_keys=[key])
    assert not (revisions_dir(store) / rev).exists()


def test_materialize_in_works_inside_a_mutate_block(store: Store) -> None:
    [rev] = new_env(store, [sha256_file(fixture(V1))])
    with store.mutate(ENV, verb="revisions stage") as env:
        result = materialize.materialize_in(store, env, rev, Pulled(fixture(V1)))
    assert result.environment is env  # the caller's env, updated in place
    assert result.runtime_config == store.load_runtime_config(ENV)
    saved = store.load(ENV).revision(rev)
    assert saved is not None and saved.pack_list[0].pack_id == "webchat-bot"
    assert reader.load_revision_packs(revisions_dir(store) / rev)[0].pack_id == "webchat-bot"


def test_delete_runtime_config(store: Store) -> None:
    [rev] = new_env(store, [sha256_file(fixture(V1))])
    materialize.materialize_revision(store, ENV, rev, Pulled(fixture(V1)))
    assert store.paths(ENV).runtime_config.exists()
    assert materialize.delete_runtime_config(store, ENV) is True
    assert not store.paths(ENV).runtime_config.exists()
    assert materialize.delete_runtime_config(store, ENV) is False


def test_load_revision_packs_refuses_a_tampered_pack(store: Store) -> None:
    [rev] = new_env(store, [sha256_file(fixture(V1))])
    materialize.materialize_revision(store, ENV, rev, Pulled(fixture(V1)))
    rdir = revisions_dir(store) / rev
    pack = rdir / "bundle" / "packs" / "webchat-bot.gtpack"
    pack.write_bytes(pack.read_bytes() + b"\0")
    with pytest.raises(SpecError, match=r"pack-list\.lock pins"):
        reader.load_revision_packs(rdir)


def test_load_revision_packs_refuses_paths_outside_the_revision(store: Store) -> None:
    [rev] = new_env(store, [sha256_file(fixture(V1))])
    materialize.materialize_revision(store, ENV, rev, Pulled(fixture(V1)))
    rdir = revisions_dir(store) / rev
    doc = json.loads((rdir / "pack-list.lock").read_text())
    doc["packs"][0]["path"] = "environment.json"
    (rdir / "pack-list.lock").write_text(json.dumps(doc))
    with pytest.raises(SpecError, match="outside"):
        reader.load_revision_packs(rdir)


def test_load_revision_packs_of_an_unmaterialized_dir(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="not materialized"):
        reader.load_revision_packs(tmp_path / "revisions" / "01ARZ3NDEKTSV4RRFFQ69G5FAV")
