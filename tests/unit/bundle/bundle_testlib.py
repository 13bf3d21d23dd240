"""Helpers for bundle tests: the fixture bundles and a store with pinned revisions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from greentic.bundle.digest import sha256_file
from greentic.spec.base import now_rfc3339
from greentic.spec.environment import (
    BundleDeployment,
    Environment,
    HostConfig,
    Revision,
    TrafficEntry,
    TrafficSplit,
)
from greentic.store import ids
from greentic.store.envstore import Store

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "bundles"
ENV = "e1"


@dataclass(frozen=True)
class Pulled:
    """Stands in for greentic.fetch.FetchedBundle (materialize only needs `.path`)."""

    path: Path
    digest: str = ""
    size: int = 0


def fixture(name: str) -> Path:
    return FIXTURES / name


def new_env(
    store: Store, digests: list[str], *, env_id: str = ENV, bundle_id: str = "webchat-bot"
) -> list[str]:
    """Create env `env_id` with one deployment and one revision per digest (first one routed)."""
    dep = ids.new_ulid()
    revs = [ids.new_ulid() for _ in digests]
    now = now_rfc3339()
    env = Environment(
        environment_id=env_id,
        name=env_id,
        host_config=HostConfig(env_id=env_id),
        bundles=[
            BundleDeployment(
                deployment_id=dep,
                env_id=env_id,
                bundle_id=bundle_id,
                customer_id="c",
                created_at=now,
            )
        ],
        revisions=[
            Revision(
                revision_id=rid,
                env_id=env_id,
                bundle_id=bundle_id,
                deployment_id=dep,
                sequence=i + 1,
                created_at=now,
                bundle_digest=digest,
                pack_list_lock_ref=f"revisions/{rid}/pack-list.lock",
                lifecycle="ready",
            )
            for i, (rid, digest) in enumerate(zip(revs, digests, strict=True))
        ],
        traffic_splits=[
            TrafficSplit(
                env_id=env_id,
                deployment_id=dep,
                bundle_id=bundle_id,
                entries=[TrafficEntry(revision_id=revs[0], weight_bps=10_000)],
                updated_at=now,
                idempotency_key="test",
            )
        ],
    )
    with store.create(env, verb="test"):
        pass
    return revs


__all__ = ["ENV", "FIXTURES", "Pulled", "fixture", "new_env", "sha256_file"]
