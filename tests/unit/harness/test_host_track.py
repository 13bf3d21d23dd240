"""The host track's pod staging, banner URL pick-up, redaction and track table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness import tracks
from harness.errors import HarnessError
from harness.host.track import HostBackend, HostWorker, redacted, stage_env_store
from harness.process import ManagedProcess


def test_staging_delivers_only_environment_json_and_drops_runtime_config(tmp_path: Path) -> None:
    authored = tmp_path / "store" / "local"
    authored.mkdir(parents=True)
    for name in ("environment.json", "runtime-config.json", "trust-root.json"):
        (authored / name).write_text(name)
    (authored / "revisions" / "R1").mkdir(parents=True)
    pod = tmp_path / "pod" / "local"
    stage_env_store(authored, pod)
    assert sorted(p.name for p in pod.iterdir()) == ["environment.json"]

    # a second boot of the same pod keeps what the first one materialized (an emptyDir)
    (pod / "revisions" / "R0").mkdir(parents=True)
    (pod / "runtime-config.json").write_text("{}")
    (authored / "environment.json").write_text("v2")
    stage_env_store(authored, pod)
    assert (pod / "environment.json").read_text() == "v2"
    assert (pod / "revisions" / "R0").is_dir()
    assert not (pod / "runtime-config.json").exists()


def test_staging_without_an_authored_env_says_how_to_author_it(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="gtc op env create"):
        stage_env_store(tmp_path / "nope", tmp_path / "pod")


def test_the_banner_url_wins_over_the_requested_address(tmp_path: Path) -> None:
    banner = "serving 1 revision(s) for env `local` across 1 deployment(s) on http://0.0.0.0:8091"
    code = f"print({banner!r}, flush=True)"
    proc = ManagedProcess([sys.executable, "-c", code], env={}, logs_dir=tmp_path, name="w")
    worker = HostWorker(proc.start(), env_dir=tmp_path, listen="127.0.0.1:8090")
    assert worker.base_url == "http://127.0.0.1:8090"
    worker.wait_banner(r"serving 1 revision\(s\)", 10)
    assert worker.base_url == "http://127.0.0.1:8091"
    assert worker.wait_exited(10) == 0
    (tmp_path / "runtime-config.json").write_text("{}")
    assert worker.env_file("runtime-config.json") == b"{}"
    assert worker.env_file("revisions/R/pack-list.lock") is None


def test_secret_looking_variables_are_masked_in_artifacts() -> None:
    env = {"HOME": "/h", "GREENTIC_DEV_MASTER_KEY": "k", "OCI_PASSWORD": "p"}
    assert redacted(env) == {"HOME": "/h", "GREENTIC_DEV_MASTER_KEY": "***", "OCI_PASSWORD": "***"}


def test_track_table_resolves_host_and_names_unknown_tracks() -> None:
    backend: tracks.WorkerBackend = HostBackend()  # mypy: the host backend is a WorkerBackend
    assert isinstance(tracks.backend_for("host"), HostBackend)
    assert backend.capabilities == tracks.capabilities_of("host") == tracks.HOST_CAPABILITIES
    with pytest.raises(tracks.UnknownTrack, match="no `moon` track here"):
        tracks.backend_for("moon")


def test_the_host_has_no_pods_only_a_local_process() -> None:
    """The host declares what it really has: scenarios that need pods skip here."""
    assert HostBackend.capabilities == {
        tracks.Capability.LOCAL_PROCESS,
        tracks.Capability.FAKE_INTERNET,
    }
    assert not isinstance(HostBackend(), tracks.PodBackend)
    assert tracks.missing_capabilities(
        HostBackend.capabilities, [tracks.Capability.READINESS, tracks.Capability.LOCAL_PROCESS]
    ) == (tracks.Capability.READINESS,)
    assert tracks.Capability.LOCAL_PROCESS not in tracks.POD_CAPABILITIES
    assert tracks.Capability.POD_PER_REVISION in tracks.POD_CAPABILITIES


def test_only_the_host_keeps_a_local_process_and_only_pods_have_pod_capabilities() -> None:
    """Every backend declares what it really has: host-pull (a kept local process) runs on the
    host alone; the pod scenarios on the pod tracks alone."""
    assert tracks.tracks_with([tracks.Capability.LOCAL_PROCESS]) == ["host"]
    pod_tracks = tracks.tracks_with([tracks.Capability.RECONCILE])
    assert "host" not in pod_tracks and pod_tracks
    for track in pod_tracks:
        # a pod track may add the fake internet (docker); never a local process
        assert tracks.capabilities_of(track) >= tracks.POD_CAPABILITIES, track
        assert tracks.Capability.LOCAL_PROCESS not in tracks.capabilities_of(track), track


def test_a_backend_that_declares_no_capabilities_is_named_with_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(tracks.TRACKS, "bare", "harness.distributor:Distributor")
    with pytest.raises(HarnessError, match="Distributor declares no `capabilities`"):
        tracks.capabilities_of("bare")
