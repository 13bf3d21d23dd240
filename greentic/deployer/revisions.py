"""Revision lifecycle: `revisions stage` (pin digest + source uri), `warm`, `archive`.

`stage(store, payload)` pins `sha256:<hex>` of the file at bundle_path (streamed) — or takes
a URI-only revision's declared digest without fetching — and records a `staged` revision
with the next sequence of its deployment (a local bundle is materialized in the same step).
Lifecycle rules are upstream's: warm staged|warming → ready; archive refuses a revision
that traffic still references.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import field_validator

from greentic.deployer.common import EnvPayload
from greentic.errors import Conflict, InvalidArgument, IoError, NotFound
from greentic.spec.base import check_digest, check_ulid, now_rfc3339
from greentic.spec.environment import Environment, Revision
from greentic.store import ids
from greentic.store.envstore import Store
from greentic.store.layout import pack_list_lock_ref

SOURCE_SCHEMES = ("file", "http", "https", "oci")
WARMABLE = ("staged", "warming", "ready")
ARCHIVABLE = ("staged", "warming", "ready", "failed", "draining")


def _ulid(v: str, what: str) -> str:
    return check_ulid(v, what)


def check_source_uri(uri: str) -> str:
    """A bundle source the worker can pull: file://, http(s)://, oci://."""
    scheme = urlsplit(uri).scheme
    if scheme not in SOURCE_SCHEMES:
        allowed = ", ".join(f"{s}://" for s in SOURCE_SCHEMES)
        raise ValueError(f"bundle_source_uri `{uri}` must use one of {allowed}")
    return uri


class RevisionStagePayload(EnvPayload):
    """`{environment_id, deployment_id, bundle_path?, bundle_source_uri?, bundle_digest?}`."""

    deployment_id: str
    bundle_path: str | None = None
    bundle_source_uri: str | None = None
    bundle_digest: str | None = None

    @field_validator("deployment_id")
    @classmethod
    def _dep(cls, v: str) -> str:
        return _ulid(v, "deployment_id")

    @field_validator("bundle_source_uri")
    @classmethod
    def _uri(cls, v: str | None) -> str | None:
        return check_source_uri(v) if v is not None else None

    @field_validator("bundle_digest")
    @classmethod
    def _digest(cls, v: str | None) -> str | None:
        return check_digest(v) if v is not None else None


class RevisionRefPayload(EnvPayload):
    """`{environment_id, revision_id, idempotency_key?}` (warm, archive)."""

    revision_id: str
    idempotency_key: str | None = None

    @field_validator("revision_id")
    @classmethod
    def _rev(cls, v: str) -> str:
        return _ulid(v, "revision_id")


@dataclass(frozen=True)
class Pinned:
    """What a revision is pinned to: digest, optional local file, optional source uri."""

    digest: str
    path: Path | None
    source_uri: str | None


def sha256_file(path: Path) -> str:
    """`sha256:<hex>` of the whole file, streamed."""
    from greentic.bundle.digest import sha256_file as digest

    return digest(path)


def pin(
    bundle_path: str | None,
    bundle_source_uri: str | None,
    bundle_digest: str | None,
    *,
    base_dir: Path | None = None,
) -> Pinned:
    """Digest of bundle_path (checked against a declared digest), or the URI-only pin."""
    if bundle_path:
        path = Path(bundle_path)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise IoError(
                f"io error on {path}: bundle_path is not a file",
                hint="pass the path of a local .gtbundle",
            )
        try:
            digest = sha256_file(path)
        except OSError as exc:
            raise IoError(f"io error on {path}: {exc.strerror}") from None
        if bundle_digest is not None and bundle_digest != digest:
            raise Conflict(
                f"bundle `{path.name}`: declared bundle_digest `{bundle_digest}` does not "
                f"match the resolved artifact digest `{digest}`"
            )
        return Pinned(digest=digest, path=path, source_uri=bundle_source_uri)
    if bundle_source_uri and bundle_digest:
        return Pinned(digest=bundle_digest, path=None, source_uri=bundle_source_uri)
    raise InvalidArgument(
        "revisions stage needs bundle_path (a local .gtbundle) or bundle_source_uri + "
        "bundle_digest (a URI-only revision)",
        hint="e.g. revisions stage deployment_id=<ULID> bundle_path=app.gtbundle "
        "bundle_source_uri=http://127.0.0.1:8090/app.gtbundle",
    )


def new_revision(env: Environment, deployment_id: str, pinned: Pinned) -> Revision:
    """The next `staged` revision of `deployment_id` (pure; the caller appends it)."""
    dep = env.deployment(deployment_id)
    if dep is None:
        raise NotFound(f"deployment `{deployment_id}` not found in env `{env.environment_id}`")
    seq = max((r.sequence for r in env.revisions if r.deployment_id == deployment_id), default=0)
    rev_id = ids.new_ulid()
    now = now_rfc3339()
    return Revision(
        revision_id=rev_id,
        env_id=env.environment_id,
        bundle_id=dep.bundle_id,
        deployment_id=deployment_id,
        sequence=seq + 1,
        created_at=now,
        bundle_digest=pinned.digest,
        bundle_source_uri=pinned.source_uri,
        pack_list_lock_ref=pack_list_lock_ref(rev_id),
        lifecycle="staged",
        staged_at=now,
    )


def summary(rev: Revision) -> dict[str, Any]:
    """upstream's RevisionSummary (+ the pins)."""
    return {
        "revision_id": rev.revision_id,
        "deployment_id": rev.deployment_id,
        "bundle_id": rev.bundle_id,
        "sequence": rev.sequence,
        "lifecycle": rev.lifecycle,
        "bundle_digest": rev.bundle_digest,
        "bundle_source_uri": rev.bundle_source_uri,
    }


def record(store: Store, env_id: str, deployment_id: str, pinned: Pinned) -> Revision:
    """Append the staged revision to environment.json (under the env lock)."""
    with store.mutate(env_id, verb="revisions.stage") as env:
        rev = new_revision(env, deployment_id, pinned)
        env.revisions.append(rev)
        if pinned.path is not None:  # materialize locally, same lock: a bad bundle records nothing
            from greentic.bundle import materialize

            materialize.materialize_in(store, env, rev.revision_id, pinned.path)
    return rev


def stage_pinned(store: Store, env_id: str, deployment_id: str, pinned: Pinned) -> Revision:
    """Record a staged revision for `pinned` — the one place stage and deploy go through
    (a local `pinned.path` is materialized by `record`, under the same lock)."""
    return record(store, env_id, deployment_id, pinned)


def stage(store: Store, p: RevisionStagePayload, *, base_dir: Path | None = None) -> dict[str, Any]:
    """Pin the bundle (sha256 of bundle_path, or a URI-only pin) and stage a revision."""
    store.load(p.environment_id)
    pinned = pin(p.bundle_path, p.bundle_source_uri, p.bundle_digest, base_dir=base_dir)
    return summary(stage_pinned(store, p.environment_id, p.deployment_id, pinned))


def _find(env: Environment, revision_id: str) -> Revision:
    rev = env.revision(revision_id)
    if rev is None:
        raise NotFound(f"revision `{revision_id}` not found in env `{env.environment_id}`")
    return rev


def _expect(rev: Revision, allowed: tuple[str, ...]) -> None:
    if rev.lifecycle not in allowed:
        raise Conflict(
            f"revision `{rev.revision_id}` is in `{rev.lifecycle}`; expected one of "
            f"[{', '.join(allowed)}]"
        )


def warm(store: Store, p: RevisionRefPayload) -> dict[str, Any]:
    """staged|warming → ready in one call (storage only); ready re-stamps warmed_at."""
    with store.mutate(
        p.environment_id, verb="revisions.warm", idempotency_key=p.idempotency_key
    ) as env:
        rev = _find(env, p.revision_id)
        _expect(rev, WARMABLE)
        rev.lifecycle = "ready"
        rev.warmed_at = now_rfc3339()
    return summary(rev)


def traffic_refs(env: Environment, revision_id: str) -> list[str]:
    """`deployment `D` / bundle `B` (Nbps)` for each split entry naming the revision."""
    out = []
    for split in env.traffic_splits:
        for entry in split.entries:
            if entry.revision_id == revision_id:
                out.append(
                    f"deployment `{split.deployment_id}` / bundle `{split.bundle_id}` "
                    f"({entry.weight_bps}bps)"
                )
    return out


def archive(store: Store, p: RevisionRefPayload) -> dict[str, Any]:
    """→ archived, refused while a traffic split still references the revision."""
    with store.mutate(
        p.environment_id, verb="revisions.archive", idempotency_key=p.idempotency_key
    ) as env:
        rev = _find(env, p.revision_id)
        refs = traffic_refs(env, rev.revision_id)
        if refs:
            raise Conflict(
                f"revision `{rev.revision_id}` is still referenced by live traffic split(s): "
                f"[{', '.join(refs)}]; rebalance via `gtc op traffic set` before archiving"
            )
        _expect(rev, ARCHIVABLE)
        rev.lifecycle = "archived"
        dep = env.deployment(rev.deployment_id)
        if dep is not None and rev.revision_id in dep.current_revisions:
            dep.current_revisions.remove(rev.revision_id)
    return summary(rev)
