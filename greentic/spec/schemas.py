"""Schema strings of every document we read or write (SPEC §2), in one place."""

from __future__ import annotations

ENVIRONMENT = "greentic.environment.v1"
BUNDLE_DEPLOYMENT = "greentic.bundle-deployment.v1"
REVISION = "greentic.revision.v1"
TRAFFIC_SPLIT = "greentic.traffic-split.v1"
MESSAGING_ENDPOINT = "greentic.messaging-endpoint.v1"
RUNTIME_CONFIG = "greentic.runtime-config.v1"
TRUST_ROOT = "greentic.trust-root.v1"
PACK_LIST_LOCK = "greentic.pack-list-lock.v1"
ENV_MANIFEST = "greentic.env-manifest.v1"
STATUS = "greentic.status.v1"
AUDIT_EVENT = "greentic.audit-event.v1"
