"""Kill the materializing process (SIGKILL) at every step: the store keeps a complete revision.

After the crash, `recover` (also run on the next materialization) must leave either the old
complete revision or the new complete one, never a half one, and no `.partial`/`.aside` dirs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from bundle_support import FIXTURES

from greentic.bundle import materialize, reader
from greentic.bundle.digest import sha256_file
from greentic.store.envstore import Store
from tests.support.stores import new_env, tree

BUNDLE = FIXTURES / "webchat-bot.gtbundle"
CHILD = """
import os, signal, sys
from pathlib import Path
from greentic.bundle import materialize
from greentic.store.envstore import Store

root, env, rev, bundle, step = sys.argv[1:]

def die(name):
    if name == step:
        os.kill(os.getpid(), signal.SIGKILL)

class Pulled:
    path = Path(bundle)
    digest = ""  # not a fetch's: the staged bytes are hashed

materialize._on_step = die
materialize.materialize_revision(Store(Path(root)), env, rev, Pulled())
"""


def complete(rdir: Path, pinned: str) -> bool:
    """A revision dir that serves: bundle matches its pin and every pack loads."""
    return (
        sha256_file(rdir / "bundle.gtbundle") == pinned
        and len(reader.load_revision_packs(rdir)) == 1
    )


@pytest.mark.parametrize("step", materialize.STEPS)
@pytest.mark.parametrize("had_old", [True, False], ids=["replacing", "first"])
def test_a_kill_at_any_step_never_leaves_a_half_revision(
    step: str, had_old: bool, tmp_path: Path
) -> None:
    store = Store(tmp_path / "store")
    pinned = sha256_file(BUNDLE)
    [rev] = new_env(store, [pinned])
    revs = store.paths("e1").dir / "revisions"
    if had_old:
        materialize.materialize_revision(store, "e1", rev, _Pulled(BUNDLE))
        (revs / rev / "old-marker").write_text("the earlier materialization")
    before = tree(revs)

    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(store.root), "e1", rev, str(BUNDLE), step],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if step == "aside" and not had_old:
        assert child.returncode == 0, child.stderr  # nothing to move aside: no such step
    else:
        assert child.returncode == -signal.SIGKILL, child.stderr

    materialize.recover(store, "e1")
    names = sorted(p.name for p in revs.iterdir()) if revs.exists() else []
    assert not [n for n in names if n.endswith((".partial", ".aside"))]
    if names:
        assert names == [rev]
        rdir = revs / rev
        assert complete(rdir, pinned)
        if (rdir / "old-marker").exists():
            assert tree(revs) == before  # the old revision, untouched
    else:
        assert not had_old  # a first materialization killed before its swap leaves nothing
    if had_old:
        assert names == [rev]

    # and the next run completes normally
    materialize.materialize_revision(store, "e1", rev, _Pulled(BUNDLE))
    assert complete(revs / rev, pinned)
    assert sorted(p.name for p in revs.iterdir()) == [rev]


class _Pulled:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.digest = ""  # not a fetch's: the staged bytes are hashed
