"""`secrets put`: seal one value into the env's dev-store (never from argv).

The env must bind a secrets pack; only the dev-store backend is writable here. The value is
a pydantic SecretStr so it never shows in a repr, an error or an envelope. Called by the CLI
(value from `--from-env VAR` or stdin) and by `env apply`'s put-secret steps.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr, field_validator

from greentic.deployer.common import EnvPayload
from greentic.errors import Conflict, InvalidArgument, NotYetImplemented
from greentic.secrets import DevStore, secret_uri, validate_secret_path
from greentic.spec.environment import Environment
from greentic.store.envstore import Store

DEV_STORE = "greentic.secrets.dev-store"


class SecretPutPayload(EnvPayload):
    """`{environment_id, path, value, idempotency_key?}` (value sealed, never echoed)."""

    path: str
    value: SecretStr
    idempotency_key: str | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        try:
            return validate_secret_path(v)
        except InvalidArgument as exc:
            raise ValueError(exc.message) from None

    @field_validator("value")
    @classmethod
    def _value(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value():
            raise ValueError("the secret value must not be empty")
        return v


def backend(env: Environment) -> str | None:
    """The secrets binding's descriptor path (`greentic.secrets.dev-store`), or None."""
    binding = env.pack("secrets")
    return binding.kind.partition("@")[0] if binding is not None else None


def require_dev_store(env: Environment) -> None:
    """Writes go to the dev-store only; other backends are not implemented here."""
    kind = backend(env)
    if kind is None:
        raise Conflict(
            f"env `{env.environment_id}` has no secrets env-pack bound; bind one with "
            "`op env-packs add` first",
            hint=f"gtc op env-packs add environment_id={env.environment_id} slot=secrets "
            f"kind={DEV_STORE}@0.1.0 pack_ref=builtin",
        )
    if kind != DEV_STORE:
        raise NotYetImplemented(
            f"secrets backend `{kind}` is not writable by this deployer; only {DEV_STORE} is"
        )


def put(store: Store, p: SecretPutPayload) -> dict[str, Any]:
    """Seal the value into `<env>/.greentic/dev/.dev.secrets.env` (no rewrite when unchanged)."""
    env_id = p.environment_id
    env = store.load(env_id)
    require_dev_store(env)
    uri = secret_uri(env_id, p.path)
    with store.locked(env_id) as paths:
        changed = DevStore(paths.dev_secrets).put(uri, p.value.get_secret_value())
        store.audit(env_id, verb="secrets.put", idempotency_key=p.idempotency_key)
    return {
        "environment_id": env_id,
        "secret_ref": uri,
        "store_uri": f"secrets://{env_id}/{p.path}",
        "secrets_kind": "dev-store",
        "store_path": str(paths.dev_secrets),
        "written": True,
        "changed": changed,
    }
