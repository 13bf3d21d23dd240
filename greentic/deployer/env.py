"""Environment verbs: `env create`, `env init` (the `local` env with default bindings),
`env show`, `env list`.

Pure builders (`fresh_environment`, `heal_defaults`) plus thin store calls. `env apply`
reuses `init` to bootstrap `local`; nothing else creates environments.
"""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from greentic.deployer.common import (
    LOCAL,
    EnvPayload,
    check_listen_addr,
    normalize_public_base_url,
)
from greentic.errors import Conflict, InvalidArgument
from greentic.spec.base import Model
from greentic.spec.environment import Environment, EnvPackBinding, HostConfig
from greentic.store.envstore import Store

LOCAL_LISTEN_ADDR = "127.0.0.1:8080"
DEFAULT_BINDINGS: tuple[tuple[str, str], ...] = (
    ("deployer", "greentic.deployer.local-process@0.1.0"),
    ("secrets", "greentic.secrets.dev-store@0.1.0"),
    ("telemetry", "greentic.telemetry.stdout@0.1.0"),
    ("sessions", "greentic.sessions.in-memory@0.1.0"),
    ("state", "greentic.state.in-memory@0.1.0"),
)


class EnvCreatePayload(EnvPayload):
    """`env create`: a new, empty environment (no bindings)."""

    name: str | None = None
    region: str | None = None
    tenant_org_id: str | None = None
    listen_addr: str | None = None
    public_base_url: str | None = None
    gui_enabled: bool | None = None

    @field_validator("public_base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return normalize_public_base_url(v) if v is not None else None

    @field_validator("listen_addr")
    @classmethod
    def _addr(cls, v: str | None) -> str | None:
        return check_listen_addr(v) if v is not None else None


class EnvInitPayload(Model):
    """`env init`: always env `local`."""

    public_base_url: str | None = None

    @field_validator("public_base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return normalize_public_base_url(v) if v is not None else None


def default_bindings() -> list[EnvPackBinding]:
    """The five default `local` bindings; pack_ref = the descriptor, generation 0."""
    return [EnvPackBinding(slot=s, kind=k, pack_ref=k) for s, k in DEFAULT_BINDINGS]


def fresh_environment(p: EnvCreatePayload) -> Environment:
    """A new environment document with no bindings and empty collections."""
    env_id = p.environment_id
    return Environment(
        environment_id=env_id,
        name=p.name or env_id,
        host_config=HostConfig(
            env_id=env_id,
            region=p.region,
            tenant_org_id=p.tenant_org_id,
            listen_addr=p.listen_addr,
            public_base_url=p.public_base_url,
            gui_enabled=p.gui_enabled,
        ),
    )


def heal_defaults(env: Environment) -> list[str]:
    """Add any missing default binding to `env` in place; returns the added slots."""
    added = []
    for binding in default_bindings():
        if env.pack(binding.slot) is None:
            env.packs.append(binding)
            added.append(binding.slot)
    return added


def summary(env: Environment) -> dict[str, Any]:
    """upstream's EnvSummary."""
    hc = env.host_config
    out: dict[str, Any] = {
        "environment_id": env.environment_id,
        "name": env.name,
        "region": hc.region,
        "tenant_org_id": hc.tenant_org_id,
    }
    if hc.listen_addr is not None:
        out["listen_addr"] = hc.listen_addr
    if hc.public_base_url is not None:
        out["public_base_url"] = hc.public_base_url
    return out | {
        "pack_count": len(env.packs),
        "bundle_count": len(env.bundles),
        "revision_count": len(env.revisions),
    }


def create(store: Store, p: EnvCreatePayload) -> dict[str, Any]:
    """Write a new environment.json; an existing env is a conflict (create never heals)."""
    env = fresh_environment(p)
    with store.create(env, verb="env.create"):
        pass
    return summary(env)


def init(store: Store, p: EnvInitPayload) -> dict[str, Any]:
    """Create or heal env `local` with the default bindings; seed trust-root.json if absent."""
    from greentic.trust import add_key, operator_key, operator_trust_key

    paths = store.paths(LOCAL)
    if store.exists(LOCAL):
        if p.public_base_url is not None:
            raise Conflict(
                "env `local` already exists; --public-url only applies when init creates it",
                hint="edit the URL with `op env apply` (environment.public_base_url)",
            )
        added: list[str] = []
        with store.locked(LOCAL):
            env = store.load(LOCAL)
            added = heal_defaults(env)
            if added:
                store.save(env)
                store.audit(LOCAL, verb="env.init")
        outcome = "healed" if added else "untouched"
    else:
        env = fresh_environment(
            EnvCreatePayload(
                environment_id=LOCAL,
                name=LOCAL,
                listen_addr=LOCAL_LISTEN_ADDR,
                public_base_url=p.public_base_url,
            )
        )
        env.packs = default_bindings()
        try:
            with store.create(env, verb="env.init"):
                pass
        except Conflict:  # a concurrent init won the race; heal on top of it
            return init(store, EnvInitPayload())
        added = [b.slot for b in env.packs]
        outcome = "created"
    trust: dict[str, Any] | None = None
    with store.locked(LOCAL):
        if not paths.trust_root.exists():
            key = operator_trust_key(operator_key(create=True))
            root = add_key(paths.trust_root, key)
            trust = {
                "environment_id": LOCAL,
                "operator_key_id": key.key_id,
                "operator_public_key_pem": key.public_key_pem,
                "trusted_key_count": len(root.keys),
            }
    env = store.load(LOCAL)
    return {
        "environment_id": LOCAL,
        "bound_slots": [b.slot for b in env.packs],
        "added_slots": added,
        "pack_count": len(env.packs),
        "public_base_url": env.host_config.public_base_url,
        "trust_root": trust,
        "outcome": outcome,
    }


def show(store: Store, env_id: str) -> dict[str, Any]:
    """`{environment, runtime}`: the validated environment.json and runtime-config (or null);
    `greentic.store.reading.show`, which `op env show` calls without importing this module."""
    from greentic.store.reading import show as read_only_show

    return read_only_show(store.root, env_id)


def list_envs(store: Store) -> dict[str, Any]:
    """`{environments:[ids…]}` under the store root."""
    return {"store_root": str(store.root), "environments": store.list()}


def check_id(env_id: str) -> str:
    """An env id from argv (InvalidArgument naming the rule it breaks)."""
    from greentic.spec.base import check_env_id

    try:
        return check_env_id(env_id)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
