"""Environments shaped like the seeds' (built from the models, no store needed).

`m2_env()` is seeds/001 (env create + deployer binding + bundles add + stage + warm +
traffic: 14 objects); `webchat_env()` is seeds/000's manifest on `local` (env init defaults,
dev-store secrets, one OCI revision, a Telegram endpoint: 15 objects).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from greentic.spec.environment import (
    BundleDeployment,
    Environment,
    EnvPackBinding,
    HostConfig,
    MessagingEndpoint,
    Revision,
    RouteBinding,
    TenantSelector,
    TrafficEntry,
    TrafficSplit,
)
from greentic.store.envstore import Store
from greentic.store.ids import derived_ulid

AT = "2026-01-02T03:04:05.000000Z"
DIGEST = "sha256:" + "c5" * 32
OCI_DIGEST = "sha256:4f560749ec709e75b6063cdeccab15ed5074c2e60bc5f772c2d3b7d4bd992363"
K8S = EnvPackBinding(
    slot="deployer",
    kind="greentic.deployer.k8s@1.0.0",
    pack_ref="builtin",
    answers_ref="deployer-answers.json",
)
INIT_DEFAULTS = [
    EnvPackBinding(slot="secrets", kind="greentic.secrets.dev-store@0.1.0", pack_ref="builtin"),
    EnvPackBinding(slot="telemetry", kind="greentic.telemetry.stdout@0.1.0", pack_ref="builtin"),
    EnvPackBinding(slot="sessions", kind="greentic.sessions.in-memory@0.1.0", pack_ref="builtin"),
    EnvPackBinding(slot="state", kind="greentic.state.in-memory@0.1.0", pack_ref="builtin"),
]


def rev_id(env_id: str, n: int) -> str:
    return derived_ulid("rev", env_id, str(n))


def dep_id(env_id: str, bundle_id: str) -> str:
    return derived_ulid("dep", env_id, bundle_id)


def revision(
    env_id: str,
    bundle_id: str,
    n: int,
    *,
    lifecycle: str = "ready",
    source: str | None = None,
    digest: str = DIGEST,
) -> Revision:
    rid = rev_id(env_id, n)
    return Revision(
        revision_id=rid,
        env_id=env_id,
        bundle_id=bundle_id,
        deployment_id=dep_id(env_id, bundle_id),
        sequence=n,
        created_at=AT,
        bundle_digest=digest,
        bundle_source_uri=source,
        pack_list_lock_ref=f"revisions/{rid}/pack-list.lock",
        lifecycle=lifecycle,  # type: ignore[arg-type]
        staged_at=AT,
        warmed_at=AT if lifecycle != "staged" else None,
    )


def deployment(
    env_id: str, bundle_id: str, revs: list[Revision], **route: object
) -> BundleDeployment:
    return BundleDeployment(
        deployment_id=dep_id(env_id, bundle_id),
        env_id=env_id,
        bundle_id=bundle_id,
        customer_id="local",
        current_revisions=[r.revision_id for r in revs],
        route_binding=RouteBinding(**route),  # type: ignore[arg-type]
        created_at=AT,
    )


def split(env_id: str, bundle_id: str, weights: dict[str, int]) -> TrafficSplit:
    return TrafficSplit(
        env_id=env_id,
        deployment_id=dep_id(env_id, bundle_id),
        bundle_id=bundle_id,
        generation=1,
        entries=[TrafficEntry(revision_id=r, weight_bps=w) for r, w in weights.items()],
        updated_at=AT,
        idempotency_key="k",
    )


def m2_env(env_id: str = "local", *, revisions: int = 1, source: bool = True) -> Environment:
    """seeds/001: one deployment, `revisions` ready revisions sharing the traffic."""
    uri = "http://127.0.0.1:8090/bundle.gtbundle" if source else None
    revs = [revision(env_id, "perf-smoke", n, source=uri) for n in range(1, revisions + 1)]
    share = 10_000 // len(revs)
    weights = {r.revision_id: share for r in revs}
    weights[revs[0].revision_id] += 10_000 - share * len(revs)
    return Environment(
        environment_id=env_id,
        name=env_id,
        host_config=HostConfig(env_id=env_id),
        packs=[K8S],
        bundles=[deployment(env_id, "perf-smoke", revs, path_prefixes=["/"])],
        revisions=revs,
        traffic_splits=[split(env_id, "perf-smoke", weights)],
    )


def webchat_env(env_id: str = "local") -> Environment:
    """seeds/000: env init defaults + k8s deployer + dev-store@1.0.0, one OCI revision."""
    uri = "oci://ghcr.io/greenticai/greentic-demo-bundles/webchat-bot:v1"
    rev = revision(env_id, "webchat-bot", 1, source=uri, digest=OCI_DIGEST)
    packs = [
        K8S,
        EnvPackBinding(slot="secrets", kind="greentic.secrets.dev-store@1.0.0", pack_ref="builtin"),
        *INIT_DEFAULTS[1:],
    ]
    route = {
        "path_prefixes": ["/"],
        "tenant_selector": TenantSelector(tenant="tenant-default", team="default"),
    }
    endpoint = MessagingEndpoint(
        env_id=env_id,
        endpoint_id=derived_ulid("ep", env_id),
        provider_type="messaging.telegram.bot",
        provider_id="webchat-bot",
        display_name="webchat-bot",
        secret_refs=[f"secret://{env_id}/tenant-default/_/messaging-telegram/telegram_bot_token"],
        linked_bundles=["webchat-bot"],
    )
    return Environment(
        environment_id=env_id,
        name="k8s",
        host_config=HostConfig(env_id=env_id, gui_enabled=True),
        packs=packs,
        bundles=[deployment(env_id, "webchat-bot", [rev], **route)],
        revisions=[rev],
        traffic_splits=[split(env_id, "webchat-bot", {rev.revision_id: 10_000})],
        messaging_endpoints=[endpoint],
    )


def archived(env: Environment) -> Environment:
    """`env` after moving traffic away and archiving every revision (nothing present)."""
    doc = env.to_json_dict()
    doc["traffic_splits"] = []
    for rev in doc["revisions"]:
        rev["lifecycle"] = "archived"
    return Environment.model_validate(doc)


def save(root: Path, env: Environment, answers: dict[str, Any] | None = None) -> Store:
    """Write `env` into a store at `root`, with `deployer-answers.json` (default `{}`)."""
    store = Store(root)
    with store.create(env, verb="test"):
        pass
    doc = json.dumps(answers or {})
    (store.paths(env.environment_id).dir / "deployer-answers.json").write_text(doc)
    return store
