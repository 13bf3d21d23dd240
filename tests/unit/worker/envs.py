"""Builders for worker tests: environments (pure models), fake packs and authored stores."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greentic.spec.environment import (
    BundleDeployment,
    Environment,
    HostConfig,
    Revision,
    RouteBinding,
    TenantSelector,
    TrafficEntry,
    TrafficSplit,
)
from greentic.store import ids
from greentic.store.envstore import Store
from greentic.store.layout import pack_list_lock_ref

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "fixtures" / "bundles"
DIGESTS: dict[str, str] = json.loads((FIXTURES / "digests.json").read_text())
NOW = "2026-01-01T00:00:00.000000Z"
ZERO_DIGEST = "sha256:" + "0" * 64

ECHO_FLOW = """
id: main
type: messaging
nodes:
  in:
    templating.text: {template: "echo: {{in.input.text}}"}
    routing: [{to: reply}]
  reply:
    emit.response: {text: "{{prev.text}}"}
"""
EMPTY_FLOW = "id: main\ntype: messaging\nnodes: {}\n"


@dataclass(frozen=True)
class FakePack:
    """Stands in for greentic.bundle.reader.LoadedPack."""

    pack_id: str
    flows: dict[str, str]
    manifest: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, pack_id: str, **flows: str) -> FakePack:
        listed = [{"id": f, "kind": "messaging", "entrypoints": ["default"]} for f in flows]
        return cls(pack_id=pack_id, flows=dict(flows), manifest={"flows": listed})


class EnvBuilder:
    """Example: `b = EnvBuilder(); d = b.deployment("bot"); b.revision(d, 10000); b.build()`."""

    def __init__(self, env_id: str = "local", *, gui_enabled: bool | None = None) -> None:
        self.env_id = env_id
        self.gui_enabled = gui_enabled
        self.bundles: list[BundleDeployment] = []
        self.revisions: list[Revision] = []
        self.entries: dict[str, list[TrafficEntry]] = {}

    def deployment(
        self,
        bundle_id: str,
        *,
        prefixes: tuple[str, ...] = ("/",),
        hosts: tuple[str, ...] = (),
        tenant: str = "tenant-default",
        status: str = "active",
    ) -> str:
        dep_id = ids.derived_ulid(self.env_id, "dep", bundle_id, str(len(self.bundles)))
        self.bundles.append(
            BundleDeployment.model_validate(
                {
                    "deployment_id": dep_id,
                    "env_id": self.env_id,
                    "bundle_id": bundle_id,
                    "customer_id": "c",
                    "status": status,
                    "created_at": NOW,
                    "route_binding": RouteBinding(
                        hosts=list(hosts),
                        path_prefixes=list(prefixes),
                        tenant_selector=TenantSelector(tenant=tenant),
                    ),
                }
            )
        )
        return dep_id

    def revision(
        self,
        deployment_id: str,
        weight: int = 10000,
        *,
        uri: str | None = None,
        digest: str = ZERO_DIGEST,
    ) -> str:
        dep = next(b for b in self.bundles if b.deployment_id == deployment_id)
        rev_id = ids.derived_ulid(self.env_id, "rev", deployment_id, str(len(self.revisions)))
        self.revisions.append(
            Revision(
                revision_id=rev_id,
                env_id=self.env_id,
                bundle_id=dep.bundle_id,
                deployment_id=deployment_id,
                sequence=len(self.revisions) + 1,
                created_at=NOW,
                bundle_digest=digest,
                bundle_source_uri=uri,
                pack_list_lock_ref=pack_list_lock_ref(rev_id),
                lifecycle="ready",
            )
        )
        self.entries.setdefault(deployment_id, []).append(
            TrafficEntry(revision_id=rev_id, weight_bps=weight)
        )
        return rev_id

    def build(self) -> Environment:
        splits = [
            TrafficSplit(
                env_id=self.env_id,
                deployment_id=dep_id,
                bundle_id=next(b.bundle_id for b in self.bundles if b.deployment_id == dep_id),
                entries=entries,
                updated_at=NOW,
                idempotency_key=f"k-{dep_id}",
            )
            for dep_id, entries in self.entries.items()
        ]
        env = Environment(
            environment_id=self.env_id,
            name=self.env_id,
            host_config=HostConfig(env_id=self.env_id, gui_enabled=self.gui_enabled),
            bundles=self.bundles,
            revisions=self.revisions,
            traffic_splits=splits,
        )
        env.check()
        return env


def save_cold(store: Store, env: Environment) -> Path:
    """Write env to the store as a pod receives it: environment.json only."""
    with store.create(env, verb="test"):
        pass
    paths = store.paths(env.environment_id)
    paths.runtime_config.unlink(missing_ok=True)
    for leftover in ("audit/events.jsonl", ".lock"):
        (paths.dir / leftover).unlink(missing_ok=True)
    return paths.environment


def fixture_env(name: str, *, uri: str | None = None, env_id: str = "local") -> Environment:
    """One deployment of fixture bundle `name` at `/`, 100% on one revision pinned to it."""
    b = EnvBuilder(env_id)
    dep = b.deployment(name)
    source = uri if uri is not None else (FIXTURES / f"{name}.gtbundle").as_uri()
    b.revision(dep, 10000, uri=source, digest=DIGESTS[f"{name}.gtbundle"])
    return b.build()
