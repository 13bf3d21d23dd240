"""The boot seam (SPEC §7 steps 1-5): env store → pull when runtime-config is empty → activate.

environment.json must exist and validate. With no runtime-config revisions, every ROUTED
revision with a `bundle_source_uri` is fetched and materialized (digest-gated) in
`environment.revisions` order; any failure deletes runtime-config.json (fail closed) and
propagates. Then each routed revision's packs are loaded and activated, from the env and
runtime-config the last materialization committed (no second read). Called by `process`.
The fetch and materialize seams are typed over their real types, imported for the type checker
only: a warm boot never imports `greentic.fetch` or `greentic.bundle.materialize`.

A boot killed at any point recovers on the next one (`tidy`, `repair_plan`): the pull dirs a
killed boot left in the temp dir are removed (only ours: named after the pid and start time of
the boot that made them, owned by our uid, that process gone); interrupted materializations are
recovered; and a runtime-config naming a routed revision whose files are missing or incomplete
(a multi-revision pull killed after its first commit) pulls that revision again rather than
failing every restart. A revision still incomplete after that is refused, never half served.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from greentic.errors import FetchError, GreenticError, NotFound, SpecError
from greentic.spec.environment import Environment, Revision
from greentic.spec.runtime_config import RuntimeConfig, RuntimeRevision
from greentic.store.envstore import Store
from greentic.store.layout import EnvPaths
from greentic.worker import activation, pidfile
from greentic.worker.logs import LogSink

if TYPE_CHECKING:
    from greentic.bundle.materialize import MaterializedRevision
    from greentic.fetch import FetchedBundle


class FetchFn(Protocol):
    """`greentic.fetch.fetch`: download `uri` into `dest_dir`, returning a FetchedBundle."""

    def __call__(self, uri: str, dest_dir: Path, *, max_bytes: int) -> FetchedBundle: ...


class MaterializeFn(Protocol):
    """`greentic.bundle.materialize.materialize_revision`: gate, unpack, commit the env."""

    def __call__(
        self, store: Store, env_id: str, revision_id: str, fetched: FetchedBundle
    ) -> MaterializedRevision: ...


class LoadPacksFn(Protocol):
    """`greentic.bundle.reader.load_revision_packs`: the verified packs of a revision dir."""

    def __call__(self, rev_dir: Path) -> Sequence[activation.PackLike]: ...


@dataclass(frozen=True)
class Booted:
    """The outcome of a boot: the env, the active table and how many revisions were pulled."""

    env: Environment
    activation: activation.Activation
    pulled: int = 0


def check_present(store: Store, env_id: str) -> Path:
    """The env's environment.json path, or a NotFound that says what is missing and the fix."""
    paths = store.paths(env_id)
    if not paths.dir.is_dir():
        raise NotFound(
            f"no environment `{env_id}` in the store at {store.root} (no directory {paths.dir})",
            hint=f"author it first (`gtc op env create {env_id}`), or point --store-root / "
            "GREENTIC_STORE_ROOT at the store that holds it",
        )
    if not paths.environment.is_file():
        raise NotFound(
            f"{paths.environment} is missing: the worker boots from the env's environment.json",
            hint="copy the env's environment.json there (a pod gets it from the gtc-env-store "
            "ConfigMap)",
        )
    return paths.environment


def pull_plan(env: Environment) -> list[Revision]:
    """Routed revisions (weight > 0) with a bundle_source_uri, in environment.revisions order."""
    routed = {rev.revision_id for rev, _ in env.routed_revisions()}
    return [r for r in env.revisions if r.revision_id in routed and r.bundle_source_uri]


PULL_PREFIX = "greentic-start-pull-"
LEFTOVERS = (".partial", ".aside")  # greentic.bundle.materialize's PARTIAL and ASIDE


def pull_dir_prefix() -> str:
    """`greentic-start-pull-<pid>-<start time>-`: names the boot that owns a pull dir."""
    pid = os.getpid()
    return f"{PULL_PREFIX}{pid}-{pidfile.proc_start_time(pid) or 'unknown'}-"


def _pull_dir_owner(name: str) -> tuple[int, str] | None:
    """The (pid, start time) a pull dir's name records, or None when it is not one of ours."""
    pid, _, rest = name.removeprefix(PULL_PREFIX).partition("-")
    start, dash, _ = rest.partition("-")
    if name.startswith(PULL_PREFIX) and dash and pid.isdigit() and start.isdigit():
        return int(pid), start
    return None


def sweep_pull_dirs(tmp_root: Path) -> list[Path]:
    """Remove the pull dirs that killed boots left in `tmp_root`: a directory (not a link)
    owned by our uid, named by `pull_dir_prefix`, whose boot process is gone. Nothing else."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(tmp_root))
    except OSError:
        return removed
    for entry in entries:
        owner = _pull_dir_owner(entry.name)
        if owner is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue
        if pidfile.identify(*owner, lambda _argv: True) is not pidfile.Identity.GONE:
            continue  # a live (or unprovable) boot: its pull in flight
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed


def tidy(store: Store, env_id: str, tmp_root: Path, log: LogSink) -> None:
    """Undo what a killed boot left: its pull dirs, half-done materializations of this env."""
    removed = sweep_pull_dirs(tmp_root)
    if removed:
        log.write(
            "info", f"removed {len(removed)} pull dir(s) that killed boots left in {tmp_root}"
        )
    revs = store.paths(env_id).dir / "revisions"
    try:
        interrupted = any(p.name.endswith(LEFTOVERS) for p in revs.iterdir())
    except OSError:
        return
    if interrupted:  # rare: only then is materialize imported
        from greentic.bundle import materialize as materializer

        for rev, action in materializer.recover(store, env_id).items():
            log.write("info", f"recovered the interrupted materialization of `{rev}`: {action}")


def _ready(paths: EnvPaths, block: RuntimeRevision, rev: Revision | None) -> bool:
    """Whether a routed revision was materialized to the end: its pack-list.lock (for this
    revision) and every pack it pins are on disk, and the env and runtime-config record what
    the lock pins (the commit step; a kill between swap and commit leaves files unrecorded).
    Pack digests are re-verified when the packs load."""
    if not all((paths.dir / ref).is_file() for ref in block.pack_list_refs):
        return False
    from greentic.bundle.reader import read_lock

    try:
        lock = read_lock(paths.revision_dir(block.revision_id))
    except GreenticError:
        return False
    if lock.revision_id != block.revision_id:
        return False
    if not all((paths.dir / entry.path).is_file() for entry in lock.packs):
        return False
    if rev is None:
        return True
    pinned = sorted((e.pack_id, e.digest) for e in lock.packs)
    recorded = sorted((e.pack_id, e.digest) for e in rev.pack_list)
    return recorded == pinned and block.pack_config_refs == rev.pack_config_refs


def repair_plan(store: Store, env: Environment, rc: RuntimeConfig, log: LogSink) -> list[Revision]:
    """The routed revisions runtime-config names that were not materialized to the end and
    that have a bundle_source_uri: pulled again (the others fail at load, naming the fix)."""
    paths = store.paths(env.environment_id)
    missing = {
        b.revision_id
        for b in activation.routed_blocks(rc)
        if not _ready(paths, b, env.revision(b.revision_id))
    }
    plan = [rev for rev in pull_plan(env) if rev.revision_id in missing]
    if plan:
        names = ", ".join(f"`{rev.revision_id}`" for rev in plan)
        log.write(
            "warn",
            f"runtime-config.json names revision(s) {names} whose files are missing, "
            "incomplete or unrecorded (an interrupted boot?): pulling them again",
        )
    return plan


def pull(
    store: Store,
    env: Environment,
    log: LogSink,
    *,
    plan: Sequence[Revision] | None = None,
    fetch: FetchFn | None = None,
    materialize: MaterializeFn | None = None,
    tmp_root: Path | None = None,
) -> list[MaterializedRevision]:
    """Fetch + materialize every revision of `plan` (default: the pull plan) into a pull dir
    of ours under `tmp_root`; fail closed on the first error."""
    plan = pull_plan(env) if plan is None else plan
    if not plan:
        return []
    from greentic.fetch import DEFAULT_MAX_BYTES
    from greentic.fetch._refs import redact  # never log `user:password@` of a source URI

    if fetch is None:
        from greentic.fetch import fetch as fetch_bundle

        fetch = fetch_bundle
    from greentic.bundle import materialize as materializer

    if materialize is None:
        materialize = materializer.materialize_revision
    env_id = env.environment_id
    done: list[MaterializedRevision] = []
    try:
        for rev in plan:
            uri = rev.bundle_source_uri or ""
            shown = redact(uri)
            log.write("info", f"pulling bundle `{shown}` for revision `{rev.revision_id}`")
            with tempfile.TemporaryDirectory(prefix=pull_dir_prefix(), dir=tmp_root) as tmp:
                try:
                    fetched = fetch(uri, Path(tmp), max_bytes=DEFAULT_MAX_BYTES)
                except OSError as exc:
                    raise FetchError(
                        f"fetching bundle `{shown}` for revision `{rev.revision_id}`: "
                        f"{exc.strerror or exc}"
                    ) from None
                done.append(materialize(store, env_id, rev.revision_id, fetched))
            log.write("info", f"materialized revision `{rev.revision_id}` from `{shown}`")
    except (GreenticError, OSError) as exc:
        log.write("error", f"boot pull failed, refusing to serve: {exc}")
        if materializer.delete_runtime_config(store, env_id):
            log.write("info", "deleted runtime-config.json so the next boot pulls again")
        raise
    log.write(
        "info", f"materialized {len(plan)} revision(s) from bundle sources for env `{env_id}`"
    )
    return done


def load_packs(
    store: Store,
    env_id: str,
    rc: RuntimeConfig | None,
    *,
    load: LoadPacksFn | None = None,
) -> dict[str, Sequence[activation.PackLike]]:
    """The packs of every routed revision, after checking its pack-list refs resolve."""
    blocks = activation.routed_blocks(rc)
    if not blocks:
        return {}
    if load is None:
        from greentic.bundle.reader import load_revision_packs

        load = load_revision_packs
    paths = store.paths(env_id)
    out: dict[str, Sequence[activation.PackLike]] = {}
    for block in blocks:
        if block.revision_id in out:
            continue
        for ref in block.pack_list_refs:
            if not (paths.dir / ref).is_file():
                raise SpecError(
                    f"runtime-config revision `{block.revision_id}`: pack list `{ref}` does not "
                    f"resolve to a file under {paths.dir}",
                    hint="materialize the revision (`gtc op revisions stage …`) or give it a "
                    "bundle_source_uri so the worker pulls it at boot",
                )
        out[block.revision_id] = load(paths.revision_dir(block.revision_id))
    return out


def boot(
    store: Store,
    env_id: str,
    log: LogSink,
    *,
    fetch: FetchFn | None = None,
    materialize: MaterializeFn | None = None,
    load: LoadPacksFn | None = None,
    tmp_root: Path | None = None,
) -> Booted:
    """Steps 1-4 of the module docstring; raises a GreenticError a user can act on."""
    check_present(store, env_id)
    env = store.load(env_id)
    log.write("info", f"loaded environment `{env_id}` from {store.paths(env_id).environment}")
    tmp_root = Path(tempfile.gettempdir()) if tmp_root is None else tmp_root
    tidy(store, env_id, tmp_root, log)
    rc = store.load_runtime_config(env_id)
    plan = pull_plan(env) if rc is None or not rc.revisions else repair_plan(store, env, rc, log)
    pulled = 0
    if plan:
        done = pull(
            store, env, log, plan=plan, fetch=fetch, materialize=materialize, tmp_root=tmp_root
        )
        # each materialization commits on top of the last: the last one has them all
        pulled = len(done)
        env, rc = done[-1].environment, done[-1].runtime_config
    packs: Mapping[str, Sequence[activation.PackLike]] = load_packs(store, env_id, rc, load=load)
    active = activation.activate(env, rc, packs)
    return Booted(env=env, activation=active, pulled=pulled)
