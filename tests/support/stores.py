"""Stores for bundle, fetch and worker tests: an env with pinned, routed revisions.

`new_env` writes an environment with one deployment and one `ready` revision per digest (the
first routed 100%); `tree` snapshots a directory so a test can assert nothing changed.
"""

from __future__ import annotations

from pathlib import Path

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

ENV = "e1"


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


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative path → bytes); directories implied."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
