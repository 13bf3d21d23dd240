"""Kill `greentic-start` (SIGKILL) at every step of a cold boot that pulls two routed revisions.

A pod's HOME (the env store) and /tmp are emptyDirs that outlive a container restart, so a
boot killed after its first revision committed leaves runtime-config.json naming both while
only one is on disk. The next boot must serve both revisions (pulling the missing one again),
leave no `.partial`/`.aside` dir, and remove the pull dirs the killed boot left in the temp
dir; the boot after that is warm (pulls nothing).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from greentic.bundle import materialize
from greentic.errors import SpecError
from greentic.store.envstore import Store
from greentic.worker import boot, pidfile
from greentic.worker.logs import MemoryLog
from tests.unit.worker.envs import DIGESTS, FIXTURES, EnvBuilder, save_cold

GREENTIC_START = str(Path(sys.executable).parent / "greentic-start")
BUNDLES = ("webchat-bot", "perf-smoke")  # pulled in this order
# Where a kill can land in one revision's pull: after its fetch, then each materialize step
# (a cold pull has no earlier revision dir to move aside).
POINTS = ("fetched", *(s for s in materialize.STEPS if s != "aside"))
CHILD = """
import os, signal, sys
import greentic.fetch
from greentic.bundle import materialize
from greentic.errors import SpecError
from greentic.cli.start import main

root, step, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
seen = {}

def at(name):
    seen[name] = seen.get(name, 0) + 1
    if name == step and seen[name] == nth:
        os.kill(os.getpid(), signal.SIGKILL)

real_fetch = greentic.fetch.fetch

def fetch(uri, dest_dir, *, max_bytes):
    fetched = real_fetch(uri, dest_dir, max_bytes=max_bytes)
    at("fetched")
    return fetched

greentic.fetch.fetch = fetch
materialize._on_step = at
main(["start", "--env", "local", "--store-root", root])
"""


def two_revisions(store: Store) -> list[str]:
    """A cold env (environment.json only, as a pod stages it): two deployments, each 100% on
    a revision pinned to a fixture bundle with a file:// source."""
    b = EnvBuilder()
    revs = []
    for i, name in enumerate(BUNDLES):
        dep = b.deployment(name, prefixes=("/",) if i == 0 else (f"/{name}",))
        uri = (FIXTURES / f"{name}.gtbundle").as_uri()
        revs.append(b.revision(dep, 10000, uri=uri, digest=DIGESTS[f"{name}.gtbundle"]))
    save_cold(store, b.build())
    return revs


def kill_boot(store: Store, tmp: Path, step: str, nth: int) -> None:
    """Run the real worker boot in a child and SIGKILL it at the `nth` `step`."""
    environ = {
        **os.environ,
        "TMPDIR": str(tmp),
        "GREENTIC_GATEWAY_LISTEN_ADDR": "192.0.2.1:0",  # never reached; fails if it were
    }
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(store.root), step, str(nth)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert pull_dirs(tmp), "the killed boot should have left its pull dir behind"


def pull_dirs(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("greentic-start-pull-"))


def assert_serves_both(store: Store, revs: list[str], tmp: Path, *, pulled: int) -> None:
    """The next boot serves both revisions, from complete dirs, and cleaned up after the kill."""
    log = MemoryLog()
    booted = boot.boot(store, "local", log, tmp_root=tmp)
    assert booted.pulled == pulled, log.lines
    assert (booted.activation.revisions_active, booted.activation.deployments_routed) == (2, 2)
    served = {d.route.bundle_id: d.revisions for d in booted.activation.deployments}
    assert sorted(served) == sorted(BUNDLES)
    assert all(len(revisions) == 1 and revisions[0].pack_ids for revisions in served.values())
    reply = served["webchat-bot"][0].run({"input": {"text": "hi"}}, state={})
    assert reply.output == [{"text": "Hello from webchat-bot! You said: hi"}]
    revisions = store.paths("local").dir / "revisions"
    assert sorted(p.name for p in revisions.iterdir()) == sorted(revs)
    assert pull_dirs(tmp) == []


@pytest.mark.parametrize("nth", [1, 2], ids=["first-revision", "second-revision"])
@pytest.mark.parametrize("step", POINTS)
def test_a_cold_boot_killed_at_any_step_serves_both_revisions_next_time(
    step: str, nth: int, tmp_path: Path
) -> None:
    store = Store(tmp_path / "store")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    revs = two_revisions(store)
    kill_boot(store, tmp, step, nth)

    # what was committed before the kill decides how much the next boot pulls again
    first_done = nth == 2 or step == "committed"
    both_done = nth == 2 and step == "committed"
    expected = 0 if both_done else 1 if first_done else 2
    assert_serves_both(store, revs, tmp, pulled=expected)
    assert_serves_both(store, revs, tmp, pulled=0)  # and the one after is warm


@pytest.mark.parametrize("step", POINTS)
def test_a_repairing_boot_killed_at_any_step_recovers_too(step: str, tmp_path: Path) -> None:
    """The state the finding describes (runtime-config names both, one on disk), then the boot
    that repairs it killed too: the third boot still serves both."""
    store = Store(tmp_path / "store")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    revs = two_revisions(store)
    kill_boot(store, tmp, "committed", 1)
    rc = store.load_runtime_config("local")
    assert rc is not None and sorted(r.revision_id for r in rc.revisions) == sorted(revs)
    assert not store.paths("local").revision_dir(revs[1]).exists()

    kill_boot(store, tmp, step, 1)  # the repair pulls only the second revision
    pulled = 0 if step == "committed" else 1
    assert_serves_both(store, revs, tmp, pulled=pulled)


def test_the_real_worker_restarted_after_the_kill_serves_both(tmp_path: Path) -> None:
    """End to end: the killed boot's successor is `greentic-start` itself (banner)."""
    store = Store(tmp_path / "store")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    two_revisions(store)
    kill_boot(store, tmp, "committed", 1)
    environ = {**os.environ, "TMPDIR": str(tmp), "GREENTIC_GATEWAY_LISTEN_ADDR": "127.0.0.1:0"}
    worker = subprocess.Popen(
        [GREENTIC_START, "start", "--env", "local", "--store-root", str(store.root)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        assert line.startswith("serving 2 revision(s) for env `local` across 2 deployment(s)"), (
            line + (worker.stderr.read() if worker.poll() is not None and worker.stderr else "")
        )
        assert pull_dirs(tmp) == []
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        finally:
            worker.kill()  # no-op once it exited
    assert worker.returncode == 0


def test_only_pull_dirs_of_our_dead_boots_are_swept(tmp_path: Path) -> None:
    """The naming/ownership rule: `greentic-start-pull-<pid>-<start>-…`, a real directory of
    our uid, whose process is gone. A live boot's dir, a link, a file, another user's dir or
    any other name is left alone."""
    gone = subprocess.Popen(["sleep", "60"])
    gone_start = pidfile.proc_start_time(gone.pid)
    gone.kill()
    gone.wait()
    me, my_start = os.getpid(), pidfile.proc_start_time(os.getpid())
    victim = tmp_path / "elsewhere"
    victim.mkdir()
    (victim / "keep").write_text("not ours")

    def made(name: str, *, kind: str = "dir") -> Path:
        path = tmp_path / name
        if kind == "dir":
            path.mkdir()
            (path / "bundle.gtbundle").write_bytes(b"x" * 1024)
        elif kind == "link":
            path.symlink_to(victim)
        else:
            path.write_text("a file")
        return path

    dead = made(f"greentic-start-pull-{gone.pid}-{gone_start}-k1ll3d")
    recycled = made(f"greentic-start-pull-{me}-1-0ld")  # our pid now, an earlier process then
    kept = [
        made(f"greentic-start-pull-{me}-{my_start}-l1ve"),  # a boot still pulling
        made("greentic-start-pull-abc123"),  # no owner in the name: not provably ours
        made("greentic-start-pull-x-1-y"),
        made("other-tool-tmp"),
        made(f"greentic-start-pull-{gone.pid}-{gone_start}-link", kind="link"),
        made(f"greentic-start-pull-{gone.pid}-{gone_start}-file", kind="file"),
    ]
    if os.getuid() == 0:  # root can make a dir of another user to prove it is left alone
        theirs = made(f"greentic-start-pull-{gone.pid}-{gone_start}-theirs")
        os.chown(theirs, 65534, 65534)
        kept.append(theirs)

    assert sorted(boot.sweep_pull_dirs(tmp_path)) == sorted([dead, recycled])
    assert not dead.exists() and not recycled.exists()
    assert all(p.exists() or p.is_symlink() for p in kept)
    assert (victim / "keep").read_text() == "not ours"


def test_a_revision_missing_a_pack_is_pulled_again_and_a_tampered_one_refused(
    tmp_path: Path,
) -> None:
    """Files gone from a revision (incomplete) are pulled again from its pinned source; a pack
    whose bytes no longer match pack-list.lock is refused, never served."""
    store = Store(tmp_path / "store")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    revs = two_revisions(store)
    boot.boot(store, "local", MemoryLog(), tmp_root=tmp)
    packs = sorted((store.paths("local").revision_dir(revs[1]) / "bundle").rglob("*.gtpack"))
    assert packs
    packs[0].unlink()
    assert_serves_both(store, revs, tmp, pulled=1)

    packs[0].write_bytes(packs[0].read_bytes() + b"tampered")
    with pytest.raises(SpecError, match="refusing to load it"):
        boot.boot(store, "local", MemoryLog(), tmp_root=tmp)
