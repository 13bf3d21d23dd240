"""`messaging endpoint add` / `link-bundle`: provider endpoints and the bundles they reach.

Telegram-class endpoints (`telegram`, `telegram.*`, optionally prefixed `messaging.`) get a
freshly minted webhook secret sealed into the dev-store at
`<tenant>/_/messaging-<endpoint ulid lowercased>/webhook_secret`; environment.json keeps only
its `secret://` ref. Called by the CLI and env apply.
"""

from __future__ import annotations

import secrets as pysecrets
from typing import Any

from pydantic import Field, field_validator, model_validator

from greentic.deployer.common import EnvPayload
from greentic.errors import Conflict, NotFound, NotYetImplemented
from greentic.secrets import DevStore, secret_uri
from greentic.spec.environment import Environment, MessagingEndpoint
from greentic.store import ids
from greentic.store.envstore import Store

DEV_STORE = "greentic.secrets.dev-store"


class EndpointAddPayload(EnvPayload):
    """`{environment_id, name | display_name, provider_type, provider_id?, secret_refs[],
    webhook_secret_ref?, idempotency_key?}` — `name` fills display_name and provider_id."""

    name: str | None = None
    display_name: str | None = None
    provider_type: str = Field(min_length=1)
    provider_id: str | None = None
    secret_refs: list[str] = Field(default_factory=list)
    webhook_secret_ref: str | None = None
    idempotency_key: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _names(cls, data: Any) -> Any:
        """`name` fills display_name and provider_id (before validation: no re-entry)."""
        if isinstance(data, dict):
            label = data.get("display_name") or data.get("name")
            if not label:
                raise ValueError("messaging endpoint needs a name (or display_name)")
            data = {**data, "display_name": label}
            data["provider_id"] = data.get("provider_id") or data.get("name") or label
        return data

    @field_validator("secret_refs")
    @classmethod
    def _refs(cls, v: list[str]) -> list[str]:
        for ref in v:
            if not ref.startswith("secret://"):
                raise ValueError(f"secret ref `{ref}` must be a secret:// uri")
        return v


class LinkBundlePayload(EnvPayload):
    """`{environment_id, endpoint_id | name, bundle_id, idempotency_key?}`."""

    endpoint_id: str | None = None
    name: str | None = None
    bundle_id: str = Field(min_length=1)
    idempotency_key: str | None = None

    @model_validator(mode="after")
    def _which(self) -> LinkBundlePayload:
        if not self.endpoint_id and not self.name:
            raise ValueError("link-bundle needs endpoint_id (or the endpoint's name)")
        return self


def is_telegram(provider_type: str) -> bool:
    """Telegram-class: `telegram` or `telegram.*`, after an optional `messaging.` prefix."""
    t = provider_type.removeprefix("messaging.")
    return t == "telegram" or t.startswith("telegram.")


def webhook_secret_path(env: Environment, endpoint_id: str) -> str:
    tenant = env.host_config.tenant_org_id or "default"
    return f"{tenant}/_/messaging-{endpoint_id.lower()}/webhook_secret"


def summary(env_id: str, ep: MessagingEndpoint) -> dict[str, Any]:
    """upstream's EndpointSummary (the webhook secret appears only as its ref)."""
    return {
        "environment_id": env_id,
        "endpoint_id": ep.endpoint_id,
        "provider_type": ep.provider_type,
        "provider_id": ep.provider_id,
        "display_name": ep.display_name,
        "linked_bundles": list(ep.linked_bundles),
        "secret_refs": list(ep.secret_refs),
        "webhook_secret_ref": ep.webhook_secret_ref,
    }


def _mint_target(env: Environment) -> None:
    """Webhook secrets go to the dev-store (dev-store binding or none); others: not here."""
    binding = env.pack("secrets")
    kind = binding.kind.partition("@")[0] if binding is not None else None
    if kind not in (None, DEV_STORE):
        raise NotYetImplemented(
            f"minting a webhook secret into secrets backend `{kind}` is not supported; "
            f"bind {DEV_STORE} or pass webhook_secret_ref"
        )


def add(store: Store, p: EndpointAddPayload) -> dict[str, Any]:
    """Create the endpoint (replaying a same-key same-endpoint add as a no-op)."""
    env_id = p.environment_id
    assert p.display_name is not None and p.provider_id is not None
    store.load(env_id)
    with store.locked(env_id) as paths:
        env = store.load(env_id)
        for ep in env.messaging_endpoints:
            if (ep.provider_type, ep.provider_id) == (p.provider_type, p.provider_id):
                if p.idempotency_key and ep.display_name == p.display_name:
                    return summary(env_id, ep)
                raise Conflict(
                    f"messaging endpoint with provider_type=`{p.provider_type}` "
                    f"provider_id=`{p.provider_id}` already exists in env `{env_id}`"
                )
        endpoint_id = ids.new_ulid()
        webhook_ref = p.webhook_secret_ref
        if webhook_ref is None and is_telegram(p.provider_type):
            _mint_target(env)
            webhook_ref = secret_uri(env_id, webhook_secret_path(env, endpoint_id))
            DevStore(paths.dev_secrets).put(webhook_ref, pysecrets.token_urlsafe(24))
        ep = MessagingEndpoint(
            env_id=env_id,
            endpoint_id=endpoint_id,
            provider_type=p.provider_type,
            provider_id=p.provider_id,
            display_name=p.display_name,
            secret_refs=p.secret_refs,
            webhook_secret_ref=webhook_ref,
        )
        env.messaging_endpoints.append(ep)
        store.save(env)
        store.audit(env_id, verb="messaging.endpoint.add", idempotency_key=p.idempotency_key)
    return summary(env_id, ep)


def find(env: Environment, *, endpoint_id: str | None, name: str | None) -> MessagingEndpoint:
    for ep in env.messaging_endpoints:
        if (endpoint_id and ep.endpoint_id == endpoint_id) or (
            not endpoint_id and ep.display_name == name
        ):
            return ep
    raise NotFound(
        f"messaging endpoint `{endpoint_id or name}` not found in env `{env.environment_id}`"
    )


def link_bundle(store: Store, p: LinkBundlePayload) -> dict[str, Any]:
    """Allow the endpoint to reach a deployed bundle (already linked: no-op)."""
    env_id = p.environment_id
    with store.mutate(
        env_id, verb="messaging.endpoint.link-bundle", idempotency_key=p.idempotency_key
    ) as env:
        ep = find(env, endpoint_id=p.endpoint_id, name=p.name)
        if env.deployment_for_bundle(p.bundle_id) is None:
            raise NotFound(f"bundle `{p.bundle_id}` is not deployed in env `{env_id}`")
        if p.bundle_id not in ep.linked_bundles:
            ep.linked_bundles.append(p.bundle_id)
    return summary(env_id, ep)
