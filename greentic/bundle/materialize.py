"""Turn a fetched .gtbundle into a served revision: digest gate + failure-atomic unpack (SPEC §7).

Under the env lock the bundle is staged into `revisions/<REV>.partial/` (link or kernel copy →
sha256 gate → hardened unpack → pack-list.lock → pack-configs), then swapped in: an existing
`revisions/<REV>/` is renamed to `<REV>.aside`, the partial dir renamed into place, the env
committed (revision pack_list/pack_config_refs, runtime-config.json), and the aside removed.
Any error restores the starting state. After a crash, `recover` (also run on every entry)
keeps `<REV>/` when it exists, else restores `<REV>.aside`, and always drops `<REV>.partial`,
so the store holds the old or the new complete revision, never half of one.
Called by the worker's boot pull and by `op revisions stage bundle_path=…`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from greentic.bundle import pack_config
from greentic.bundle.archive import DEFAULT_LIMITS, Limits, SafeZip
from greentic.bundle.digest import sha256_file
from greentic.bundle.reader import PACK_LIST_LOCK, check_bundle
from greentic.bundle.staging import Pulled, stage_bundle
from greentic.errors import Conflict, DigestMismatch, NotFound
from greentic.spec.environment import Environment, PackListEntry, Revision
from greentic.spec.pack_list_lock import PackLockEntry
from greentic.spec.pack_list_lock import build as build_lock
from greentic.spec.runtime_config import RuntimeConfig, project
from greentic.store import atomic
from greentic.store.envstore import Store
from greentic.store.layout import EnvPaths, pack_list_lock_ref

if TYPE_CHECKING:
    from greentic.spec.trust_root import TrustKey

BUNDLE_FILE = "bundle.gtbundle"
PARTIAL = ".partial"
ASIDE = ".aside"

# Test seam: called with each step name; crash-injection tests kill the process here.
_on_step: Callable[[str], None] | None = None
STEPS = (
    "recovered",
    "staged",
    "gated",
    "unpacked",
    "locked",
    "configured",
    "aside",
    "swapped",
    "committed",
)


@dataclass(frozen=True)
class MaterializedRevision:
    """A revision laid out in the store, as pinned by its pack-list.lock.

    `environment` is the env with the revision's pack_list/pack_config_refs filled in and
    `runtime_config` its projection: what was committed (or what a `materialize_in` caller's
    mutate block saves), so the worker's boot serves it without reading the store again.
    """

    revision_id: str
    dir: Path
    bundle_digest: str
    pack_list_lock_ref: str
    packs: tuple[PackLockEntry, ...]
    pack_config_refs: tuple[str, ...]
    environment: Environment
    runtime_config: RuntimeConfig


class _Staged(NamedTuple):
    """What `_stage` laid out in the partial dir: the gated digest, lock entries, config refs."""

    bundle_digest: str
    packs: tuple[PackLockEntry, ...]
    pack_config_refs: tuple[str, ...]


def _step(name: str) -> None:
    if _on_step is not None:
        _on_step(name)


def _rmtree(path: Path) -> None:
    if path.exists() or path.is_symlink():
        shutil.rmtree(path)


def _siblings(final: Path) -> tuple[Path, Path]:
    return final.with_name(final.name + PARTIAL), final.with_name(final.name + ASIDE)


def _recover_one(final: Path) -> str | None:
    """Resolve one revision's leftovers; returns what was done (None when clean)."""
    partial, aside = _siblings(final)
    done: list[str] = []
    if partial.exists():
        _rmtree(partial)
        done.append("dropped partial")
    if aside.exists():
        if final.exists():
            _rmtree(aside)
            done.append("dropped aside")
        else:
            os.replace(aside, final)
            done.append("restored aside")
    if done:
        atomic.fsync_dir(final.parent)
    return ", ".join(done) or None


def recover(store: Store, env_id: str) -> dict[str, str]:
    """Clean up every interrupted materialization of env `env_id` (takes the env lock)."""
    if not store.exists(env_id):
        store.load(env_id)
    with store.locked(env_id) as paths:
        revs = paths.dir / "revisions"
        if not revs.is_dir():
            return {}
        finals = {
            p.name.removesuffix(PARTIAL).removesuffix(ASIDE)
            for p in revs.iterdir()
            if p.name.endswith((PARTIAL, ASIDE))
        }
        out: dict[str, str] = {}
        for rev in sorted(finals):
            action = _recover_one(revs / rev)
            if action:
                out[rev] = action
        return out


def delete_runtime_config(store: Store, env_id: str) -> bool:
    """Fail closed: remove runtime-config.json so the next boot pulls again."""
    with store.locked(env_id) as paths:
        return atomic.remove(paths.runtime_config)


def _revision(env: Environment, revision_id: str) -> Revision:
    rev = env.revision(revision_id)
    if rev is None:
        raise NotFound(f"revision `{revision_id}` not found in env `{env.environment_id}`")
    if env.deployment(rev.deployment_id) is None:
        raise NotFound(
            f"deployment `{rev.deployment_id}` for revision `{revision_id}` has no bundle in "
            f"env `{env.environment_id}`"
        )
    expected = pack_list_lock_ref(revision_id)
    if rev.pack_list_lock_ref != expected:
        raise Conflict(
            f"materialized pack-list lock ref `{expected}` diverges from revision "
            f"`{revision_id}`'s `{rev.pack_list_lock_ref}`"
        )
    return rev


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, _files in os.walk(root):
        atomic.fsync_dir(Path(dirpath))


def gate(staged_digest: str, rev: Revision) -> None:
    """The digest gate: the staged bytes' sha256 (the fetch's own, or hashed at staging) must
    be the revision's pinned bundle_digest."""
    if staged_digest != rev.bundle_digest:
        raise DigestMismatch(
            f"pulled bundle digest `{staged_digest}` does not match revision "
            f"`{rev.revision_id}`'s pinned `{rev.bundle_digest}`; refusing to serve unpinned bytes"
        )


def _stage(
    env: Environment,
    rev: Revision,
    fetched: Pulled | Path,
    partial: Path,
    *,
    trusted_keys: Sequence[TrustKey] | None,
    limits: Limits,
) -> _Staged:
    """Build the complete new revision in `partial` (nothing outside it is touched)."""
    rid = rev.revision_id
    partial.mkdir(parents=True)
    bundle = partial / BUNDLE_FILE
    digest = stage_bundle(fetched, bundle)
    _step("staged")
    gate(digest, rev)
    _step("gated")
    with SafeZip.open(bundle, what=f"bundle of revision `{rid}`", limits=limits) as z:
        contents = check_bundle(z, trusted_keys=trusted_keys)
        z.extract_all(partial / "bundle")
    _step("unpacked")
    prefix = f"revisions/{rid}"
    entries = [
        PackLockEntry(
            pack_id=pid,
            path=f"{prefix}/bundle/{app.path}",
            digest=sha256_file(partial / "bundle" / app.path),
        )
        for pid, app in ((a.pack_id, a) for a in contents.manifest.app_packs)
    ]
    lock = build_lock(rid, entries)
    # files in the partial dir: fsynced each; their dirs once, by _fsync_tree before the swap
    atomic.write_json(partial / PACK_LIST_LOCK, lock.to_json_dict(), sync_dir=False)
    _step("locked")
    refs: list[str] = []
    for pid, cfg in sorted(contents.pack_configs.items()):
        out = pack_config.resolve(
            cfg,
            stem=pid,
            known_packs=set(contents.packs),
            env_id=env.environment_id,
            bundle_id=rev.bundle_id,
            revision_id=rid,
            what=f"bundle of revision `{rid}`: state/pack-configs/{pid}.json",
        )
        config = partial / "pack-configs" / f"{pid}.json"
        atomic.write_json(config, out.to_json_dict(), sync_dir=False)
        refs.append(f"{prefix}/pack-configs/{pid}.json")
    _step("configured")
    _fsync_tree(partial)
    rev.pack_list = [
        PackListEntry(
            pack_id=e.pack_id, version=contents.packs[e.pack_id].manifest.version, digest=e.digest
        )
        for e in lock.packs
    ]
    rev.pack_config_refs = sorted(refs)
    return _Staged(digest, tuple(lock.packs), tuple(sorted(refs)))


def _rollback(final: Path, *, swapped: bool) -> None:
    """Back to the starting state: no partial, the old revision (if any) in place."""
    partial, aside = _siblings(final)
    with contextlib.suppress(OSError):
        _rmtree(partial)
    if swapped:
        with contextlib.suppress(OSError):
            _rmtree(final)
    if aside.exists() and not final.exists():
        with contextlib.suppress(OSError):
            os.replace(aside, final)
    with contextlib.suppress(OSError):
        atomic.fsync_dir(final.parent)


def _materialize(
    paths: EnvPaths,
    env: Environment,
    revision_id: str,
    fetched: Pulled | Path,
    *,
    commit: Callable[[Environment], None],
    trusted_keys: Sequence[TrustKey] | None,
    limits: Limits,
) -> MaterializedRevision:
    rev = _revision(env, revision_id)  # first: only a known revision id becomes a path
    final = paths.revision_dir(revision_id)
    partial, aside = _siblings(final)
    _recover_one(final)
    _step("recovered")
    before = rev.model_copy(deep=True)
    swapped = False
    try:
        staged = _stage(env, rev, fetched, partial, trusted_keys=trusted_keys, limits=limits)
        if final.exists():
            os.replace(final, aside)
            _step("aside")
        os.replace(partial, final)
        swapped = True
        atomic.fsync_dir(final.parent)
        _step("swapped")
        commit(env)
    except BaseException:
        rev.pack_list, rev.pack_config_refs = before.pack_list, before.pack_config_refs
        _rollback(final, swapped=swapped)
        raise
    _step("committed")  # past the commit point: a leftover aside is dropped by `recover`
    _rmtree(aside)
    return MaterializedRevision(
        revision_id=revision_id,
        dir=final,
        bundle_digest=staged.bundle_digest,
        pack_list_lock_ref=pack_list_lock_ref(revision_id),
        packs=staged.packs,
        pack_config_refs=staged.pack_config_refs,
        environment=env,
        runtime_config=project(env),
    )


def materialize_revision(
    store: Store,
    env_id: str,
    revision_id: str,
    fetched: Pulled | Path,
    *,
    trusted_keys: Sequence[TrustKey] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> MaterializedRevision:
    """Gate and lay out `fetched` as revision `revision_id` of env `env_id`, all or nothing.

    Takes the env lock. On success environment.json records the revision's pack_list and
    pack_config_refs and runtime-config.json is re-projected. With `trusted_keys`, every
    pack must carry a signature that verifies against one of them.
    """
    if not store.exists(env_id):
        store.load(env_id)  # raises NotFound with its hint
    with store.locked(env_id) as paths:
        env = store.load(env_id)
        snapshot = env.to_json_dict()

        def commit(updated: Environment) -> None:
            if updated.to_json_dict() != snapshot:
                store.save(updated)
            else:
                store.write_runtime_config(updated)

        return _materialize(
            paths,
            env,
            revision_id,
            fetched,
            commit=commit,
            trusted_keys=trusted_keys,
            limits=limits,
        )


def materialize_in(
    store: Store,
    env: Environment,
    revision_id: str,
    fetched: Pulled | Path,
    *,
    trusted_keys: Sequence[TrustKey] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> MaterializedRevision:
    """`materialize_revision` for a caller that already holds the env lock (`Store.mutate`).

    Updates the revision inside `env` in place; the caller's mutate block saves it.
    """
    paths = store.paths(env.environment_id)
    return _materialize(
        paths,
        env,
        revision_id,
        fetched,
        commit=lambda _env: None,
        trusted_keys=trusted_keys,
        limits=limits,
    )
