"""Names and labels of everything rendered: namespace_for_env, object names, label sets.

Pure string arithmetic (SPEC §6.2, reference/upstream-deployer.md §5.1–5.2 and §6), used by
answers (namespace validation), render (every object) and plan/reconcile (prune selectors).
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "gtc-"
MAX_LABEL = 63
HASH_LEN = 8
ROUTER = "gtc-router"
ENV_STORE = "gtc-env-store"
RUNTIME_CONFIG = "gtc-runtime-config"
DEV_SECRETS = "gtc-dev-secrets"
WORKER_PREFIX = "gtc-worker-"

MANAGED_BY = "app.kubernetes.io/managed-by"
COMPONENT = "app.kubernetes.io/component"
ENV_LABEL = "greentic.ai/env"
REVISION_LABEL = "greentic.ai/revision"
DEPLOYMENT_LABEL = "greentic.ai/deployment"
BUNDLE_LABEL = "greentic.ai/bundle"
DEV_STORE_HASH = "greentic.ai/dev-store-hash"
MANAGER = "greentic"

_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def is_dns1123_label(value: str) -> bool:
    """1–63 chars of `[a-z0-9-]`, alphanumeric at both ends (namespaces, object names)."""
    return 0 < len(value) <= MAX_LABEL and _LABEL_RE.match(value) is not None


def is_dns1123_subdomain(value: str) -> bool:
    """≤ 253 chars of dot-separated labels (Secret names, ingress class, hosts)."""
    return 0 < len(value) <= 253 and _SUBDOMAIN_RE.match(value) is not None


def sanitize(raw: str) -> str:
    """Lowercase, every char outside `[a-z0-9]` → `-`, trim `-` at both ends (runs kept)."""
    mapped = "".join(c if ("a" <= c <= "z" or "0" <= c <= "9") else "-" for c in raw.lower())
    return mapped.strip("-")


def _hash8(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()[:HASH_LEN]


def namespace_for_env(env_id: str) -> str:
    """`gtc-<id>` for a clean id; else `gtc-<sanitized[:50]>-<hash8 of the raw id>`.

    The hash keeps distinct ids distinct even when they sanitize the same
    (`Prod.EU_west` → `gtc-prod-eu-west-eb74f49e`; `...` → `gtc-ab5df625`).
    """
    clean = (
        env_id != ""
        and all("a" <= c <= "z" or "0" <= c <= "9" or c == "-" for c in env_id)
        and not env_id.startswith("-")
        and not env_id.endswith("-")
        and len(PREFIX) + len(env_id) <= MAX_LABEL
    )
    if clean:
        return PREFIX + env_id
    hash8 = _hash8(env_id)
    room = MAX_LABEL - len(PREFIX) - 1 - HASH_LEN
    stem = sanitize(env_id)[:room].rstrip("-")
    return f"{PREFIX}{stem}-{hash8}" if stem else f"{PREFIX}{hash8}"


def label_value(raw: str) -> str:
    """`raw` when it is a valid label value, else `<sanitized[:54]>-<hash8 of raw>`.

    Env ids may start or end with `.`/`_`/`-` and bundle ids are free text, but a label value
    must be ≤ 63 chars, alphanumeric at both ends; the hash keeps distinct ids distinct.
    """
    if len(raw) <= MAX_LABEL and _LABEL_VALUE_RE.match(raw):
        return raw
    stem = sanitize(raw)[: MAX_LABEL - 1 - HASH_LEN].rstrip("-")
    return f"{stem}-{_hash8(raw)}" if stem else _hash8(raw)


def worker_name(revision_id: str) -> str:
    """`gtc-worker-<revision ULID lowercased>` (Deployment and Service)."""
    return WORKER_PREFIX + revision_id.lower()


def common_labels(env_id: str, component: str) -> dict[str, str]:
    """The three labels every rendered object carries."""
    return {MANAGED_BY: MANAGER, COMPONENT: component, ENV_LABEL: label_value(env_id)}


def env_selector(env_id: str) -> dict[str, str]:
    """Selects every object this deployer manages for one env (prune, listing)."""
    return {MANAGED_BY: MANAGER, ENV_LABEL: label_value(env_id)}


def worker_labels(
    env_id: str, *, revision_id: str, deployment_id: str, bundle_id: str
) -> dict[str, str]:
    """Worker labels: common(worker) plus revision, deployment and bundle."""
    return {
        **common_labels(env_id, "worker"),
        REVISION_LABEL: revision_id,
        DEPLOYMENT_LABEL: deployment_id,
        BUNDLE_LABEL: label_value(bundle_id),
    }
