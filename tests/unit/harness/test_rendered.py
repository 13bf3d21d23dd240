"""What the docker and kind tracks share (harness/tracks/rendered.py): the deployer binding,
which revision a worker is, what a start's env may carry, and the in-network bundle server."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness import rendered, tracks
from harness.errors import HarnessError


class TrackError(HarnessError):
    pass


@dataclass
class FakeBackend:
    namespace: str = "gtc-local"


@dataclass
class FakeDistributor(rendered.PodDistributor[FakeBackend]):
    """Records each sync's bytes instead of running a pod."""

    error = TrackError
    where = "in-test"
    synced: list[dict[str, bytes]] = field(default_factory=list)

    def hits(self, name: str) -> int:
        return 0

    def sync(self) -> None:
        self.synced.append(self.served())


def test_binding_the_deployer_is_one_env_packs_add() -> None:
    assert rendered.bind_deployer_args("local", Path("/a/answers.json")) == (
        "env-packs", "add", "environment_id=local", "slot=deployer",
        "kind=greentic.deployer.k8s@1.0.0", "pack_ref=builtin", "answers_ref=/a/answers.json",
    )  # fmt: skip


def test_the_newest_revision_is_the_highest_sequence() -> None:
    revs = [{"revision_id": "A", "sequence": 2}, {"revision_id": "B", "sequence": 10}]
    assert rendered.newest_revision(revs) == "B"
    assert rendered.newest_revision([]) is None


def test_other_variables_are_refused_with_the_tracks_own_error() -> None:
    given = {tracks.INSECURE_ENV: "a:5000,,b:5000 ", "GTC_FAKE": "1"}
    with pytest.raises(TrackError, match=r"the kind track .* cannot inject GTC_FAKE"):
        rendered.insecure_from(given, [], track="kind", error=TrackError)
    del given["GTC_FAKE"]
    assert rendered.insecure_from(given, [], track="kind", error=TrackError) == [
        "a:5000",
        "b:5000",
    ]


def test_the_bundle_server_serves_published_or_tampered_bytes(tmp_path: Path) -> None:
    bundle = tmp_path / "v2.gtbundle"
    bundle.write_bytes(b"good bytes")
    dist = FakeDistributor(FakeBackend())
    url = dist.publish(bundle)
    assert url == "http://gtc-bundle-server.gtc-local.svc.cluster.local:8080/v2.gtbundle"
    assert tracks.bundle_uri(dist, "/v2.gtbundle") == url
    dist.tamper("v2.gtbundle")
    served = dist.served_bytes("v2.gtbundle")
    assert served is not None and served != b"good bytes" and len(served) == len(b"good bytes")
    assert dist.synced == [{"v2.gtbundle": b"good bytes"}, {"v2.gtbundle": served}]
    assert dist.served_bytes("absent") is None
    with pytest.raises(TrackError, match="cannot tamper 'other': it is not published"):
        dist.tamper("other")
    with pytest.raises(TrackError, match="the in-test httpd cannot inject failures"):
        dist.fail("v2.gtbundle")
