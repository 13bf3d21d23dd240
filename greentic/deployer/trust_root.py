"""`trust-root bootstrap`: load or create the operator key and trust it in an env.

Idempotent (the add is keyed on key_id). `env init` seeds the same way when trust-root.json
is absent, and `env apply`'s `bootstrap-trust-root` step calls `bootstrap`.
"""

from __future__ import annotations

from typing import Any

from greentic.deployer.common import EnvPayload
from greentic.errors import TrustRootError
from greentic.store.envstore import Store


class TrustRootBootstrapPayload(EnvPayload):
    """`{environment_id}`."""


def operator_is_trusted(store: Store, env_id: str) -> bool:
    """True when the (existing) operator key is already in the env's trust root."""
    from greentic.trust import load_trust_root, operator_key, operator_trust_key

    try:
        key = operator_trust_key(operator_key(create=False))
    except TrustRootError:
        return False
    return any(k.key_id == key.key_id for k in load_trust_root(store.paths(env_id).trust_root))


def bootstrap(store: Store, p: TrustRootBootstrapPayload) -> dict[str, Any]:
    """Add the operator key (created on first use) to `<env>/trust-root.json`."""
    from greentic.trust import add_key, operator_key, operator_trust_key

    env_id = p.environment_id
    store.load(env_id)  # the env must exist (NotFound with its hint)
    with store.locked(env_id) as paths:
        key = operator_trust_key(operator_key(create=True))
        root = add_key(paths.trust_root, key)
        store.audit(env_id, verb="trust-root.bootstrap")
    return {
        "environment_id": env_id,
        "operator_key_id": key.key_id,
        "operator_public_key_pem": key.public_key_pem,
        "trusted_key_count": len(root.keys),
    }


def require_operator_trusted(store: Store, env_id: str) -> None:
    """bundles add needs the operator key in the env's trust root (upstream's revenue rule)."""
    if not operator_is_trusted(store, env_id):
        raise TrustRootError(
            f"operator key is not trusted in env `{env_id}` (not present in trust-root.json)",
            hint=f"run `gtc op trust-root bootstrap {env_id}` first",
        )
