"""`revisions stage bundle_path=…` materializes locally through the same code as the worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from bundle_testlib import fixture

from greentic.bundle import reader
from greentic.bundle.digest import sha256_file
from greentic.deployer import revisions
from greentic.errors import SpecError
from greentic.store.envstore import Store
from tests.support.stores import ENV, new_env


def deployment(store: Store) -> str:
    new_env(store, [sha256_file(fixture("perf-smoke.gtbundle"))])
    return store.load(ENV).bundles[0].deployment_id


def test_stage_with_bundle_path_materializes(store: Store) -> None:
    dep = deployment(store)
    payload = revisions.RevisionStagePayload(
        environment_id=ENV, deployment_id=dep, bundle_path=str(fixture("webchat-bot.gtbundle"))
    )
    result = revisions.stage(store, payload)
    rev = store.load(ENV).revision(result["revision_id"])
    assert rev is not None and rev.bundle_digest == sha256_file(fixture("webchat-bot.gtbundle"))
    assert [p.pack_id for p in rev.pack_list] == ["webchat-bot"]
    rdir = store.paths(ENV).revision_dir(rev.revision_id)
    assert reader.load_revision_packs(rdir)[0].version == "1.0.0"


def test_stage_of_an_invalid_bundle_records_nothing(store: Store, tmp_path: Path) -> None:
    dep = deployment(store)
    junk = tmp_path / "junk.gtbundle"
    junk.write_bytes(b"not a zip")
    before = store.paths(ENV).environment.read_bytes()
    payload = revisions.RevisionStagePayload(
        environment_id=ENV, deployment_id=dep, bundle_path=str(junk)
    )
    with pytest.raises(SpecError, match="not a valid ZIP archive"):
        revisions.stage(store, payload)
    assert store.paths(ENV).environment.read_bytes() == before
    assert not (store.paths(ENV).dir / "revisions").exists() or not any(
        (store.paths(ENV).dir / "revisions").iterdir()
    )
