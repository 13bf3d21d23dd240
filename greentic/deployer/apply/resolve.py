"""Resolve a manifest against the file system, the environment and the operator's shell.

Answers files and bundle paths resolve relative to the manifest's directory and must stay
inside it unless `allow_outside` (`env apply --allow-outside`); inline answers
become canonical JSON bytes; local bundles are hashed (a declared digest must match);
URI-only bundles are taken by uri + declared digest without fetching; secret values come
from `$from_env` (or a hidden prompt on a TTY). Nothing here writes. Called by `env apply`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from greentic.deployer import bundles, env_packs, revisions
from greentic.deployer.answers_file import confine, load_mapping
from greentic.deployer.common import LOCAL, check_listen_addr, normalize_public_base_url
from greentic.errors import GreenticError, InvalidArgument, NotFound
from greentic.secrets import DevStore, secret_uri, validate_secret_path
from greentic.spec.environment import Environment, RouteBinding
from greentic.spec.manifest import EnvManifest
from greentic.store import atomic
from greentic.store.envstore import Store

Prompt = Callable[[str], str]


class Secret:
    """A secret value that never prints (repr/str show a mask)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


@dataclass(frozen=True)
class ResolvedPack:
    slot: str
    kind: str
    pack_ref: str
    answers: bytes | None  # canonical JSON staged at env-packs/<slot>/answers.json
    source: str | None  # where the answers came from (for the plan's detail)


@dataclass(frozen=True)
class ResolvedBundle:
    bundle_id: str
    customer_id: str
    customer_given: str | None
    route_binding: RouteBinding | None
    digest: str
    path: Path | None
    source_uri: str | None


@dataclass(frozen=True)
class ResolvedSecret:
    path: str
    uri: str
    value: Secret | None  # None: already in the dev-store, or missing
    source: str
    missing: bool = False


@dataclass
class Resolved:
    """Everything apply needs, with files read and values in hand."""

    env_id: str
    exists: bool
    current: Environment | None
    name: str | None
    region: str | None
    tenant_org_id: str | None
    listen_addr: str | None
    public_base_url: str | None
    gui_enabled: bool | None
    trust_root: bool
    packs: list[ResolvedPack] = field(default_factory=list)
    bundles: list[ResolvedBundle] = field(default_factory=list)
    secrets: list[ResolvedSecret] = field(default_factory=list)
    current_secrets: dict[str, str | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _env(store: Store, env_id: str, manifest_path: Path) -> Environment | None:
    """The existing env, None for a missing `local` (apply bootstraps it), else NotFound."""
    if store.exists(env_id):
        return store.load(env_id)
    store.paths(env_id)  # validates the id
    if env_id == LOCAL:
        return None
    raise NotFound(
        f"environment `{env_id}` not found — `env apply` reconciles an existing named "
        f"environment but does not create one. Run `op env create {env_id}` first, then re-run "
        "apply (or use `local`, which apply bootstraps).",
        hint=f"gtc op env create {env_id} --name {env_id}",
    )


APPLY = "gtc op env apply"


def _packs(m: EnvManifest, base: Path, allow_outside: bool) -> list[ResolvedPack]:
    out = []
    for p in m.packs:
        data: bytes | None = None
        source: str | None = None
        if p.answers_ref is not None:
            path = confine(
                p.answers_ref,
                base=base,
                what=f"packs[] slot `{p.slot}`: answers_ref",
                verb=APPLY,
                allow_outside=allow_outside,
            )
            data = atomic.pretty_json(load_mapping(path, what=f"answers of slot `{p.slot}`"))
            source = str(path)
        elif p.answers is not None:
            data = atomic.pretty_json(p.answers)
            source = "inline answers"
        env_packs.check_answers(p.kind, data, what=f"packs[] slot `{p.slot}` ({source})")
        out.append(ResolvedPack(p.slot, p.kind, p.pack_ref, data, source))
    return out


def _bundles(m: EnvManifest, env_id: str, base: Path, allow_outside: bool) -> list[ResolvedBundle]:
    out = []
    for b in m.bundles:
        customer = bundles.resolve_customer_id(env_id, b.customer_id)
        if b.route_binding is not None:
            try:
                bundles.check_route(b.route_binding)
            except ValueError as exc:
                raise InvalidArgument(f"bundle `{b.bundle_id}`: {exc}") from None
        if b.bundle_source_uri is not None:
            try:
                revisions.check_source_uri(b.bundle_source_uri)
            except ValueError as exc:
                raise InvalidArgument(f"bundle `{b.bundle_id}`: {exc}") from None
        if not b.bundle_path and not b.bundle_digest:
            raise InvalidArgument(
                f"bundle `{b.bundle_id}`: a URI-only bundle needs `bundle_digest` (apply records "
                "uri + digest and never fetches)",
                hint="pin it: bundle_digest: sha256:<hex of the artifact>",
            )
        local = None
        if b.bundle_path:
            where = f"bundle `{b.bundle_id}`: bundle_path"
            local = str(
                confine(
                    b.bundle_path, base=base, what=where, verb=APPLY, allow_outside=allow_outside
                )
            )
        pinned = revisions.pin(local, b.bundle_source_uri, b.bundle_digest, base_dir=base)
        out.append(
            ResolvedBundle(
                bundle_id=b.bundle_id,
                customer_id=customer,
                customer_given=b.customer_id,
                route_binding=b.route_binding,
                digest=pinned.digest,
                path=pinned.path,
                source_uri=pinned.source_uri,
            )
        )
    return out


def _value(var: str | None, path: str, interactive: bool, prompt: Prompt) -> Secret | None:
    if var:
        value = os.environ.get(var, "")
        if value:
            return Secret(value)
    if interactive:
        why = f"${var} is unset" if var else "no from_env given"
        value = prompt(f"secret `{path}`: {why} — enter value (hidden; empty to abort): ")
        return Secret(value) if value else None
    return None


def _secrets(
    m: EnvManifest,
    env_id: str,
    devstore: DevStore | None,
    interactive: bool,
    prompt: Prompt,
    require_all: bool,
) -> tuple[list[ResolvedSecret], list[str]]:
    out: list[ResolvedSecret] = []
    missing: list[str] = []
    held = set(devstore.list()) if devstore is not None else set()
    for s in m.secrets:
        path = validate_secret_path(s.path)
        uri = secret_uri(env_id, path)
        if s.from_env is None and uri in held:
            out.append(ResolvedSecret(path, uri, None, "dev-store"))
            continue
        value = _value(s.from_env, path, interactive, prompt)
        if value is None and not require_all and uri in held:
            out.append(ResolvedSecret(path, uri, None, "dev-store (value not compared)"))
            continue
        if value is None:
            why = (
                f"${s.from_env} is unset or empty"
                if s.from_env
                else "no from_env and not in the dev-store"
            )
            missing.append(f"secret `{path}` ({why})")
            out.append(ResolvedSecret(path, uri, None, why, missing=True))
            continue
        out.append(
            ResolvedSecret(path, uri, value, f"env:{s.from_env}" if s.from_env else "prompt")
        )
    return out, missing


def _link_warnings(m: EnvManifest, current: Environment | None) -> list[str]:
    """Every endpoint link must name a declared or deployed bundle; deployed-only ones warn."""
    declared = {b.bundle_id for b in m.bundles}
    deployed = {b.bundle_id for b in current.bundles} if current is not None else set()
    warnings: list[str] = []
    for ep in m.messaging_endpoints:
        for link in ep.links:
            if link not in declared and link not in deployed:
                raise InvalidArgument(
                    f"messaging endpoint `{ep.name}` links bundle `{link}`, which is neither "
                    "declared in bundles[] nor deployed in the env"
                )
            if link not in declared:
                warnings.append(
                    f"endpoint `{ep.name}` links `{link}`, satisfied only by the existing "
                    "deployment"
                )
    return warnings


def _existing_devstore(store: Store, env_id: str, current: Environment | None) -> DevStore | None:
    """The env's dev-store when the env exists and has written one (to diff secrets against)."""
    if current is None:
        return None
    devstore = DevStore(store.paths(env_id).dev_secrets)
    return devstore if devstore.path.exists() else None


def resolve(
    store: Store,
    m: EnvManifest,
    manifest_path: Path,
    *,
    interactive: bool,
    prompt: Prompt,
    require_all: bool = True,
    allow_outside: bool = False,
) -> Resolved:
    """Read every input the manifest names; missing inputs fail together, by name (or, for
    a dry run / check, are listed in `missing`)."""
    base = manifest_path.parent
    env_id = m.environment.id
    current = _env(store, env_id, manifest_path)
    e = m.environment
    try:
        url = normalize_public_base_url(e.public_base_url) if e.public_base_url else None
        addr = check_listen_addr(e.listen_addr) if e.listen_addr else None
    except ValueError as exc:
        raise InvalidArgument(f"environment: {exc}") from None
    devstore = _existing_devstore(store, env_id, current)
    resolved = Resolved(
        env_id=env_id,
        exists=current is not None,
        current=current,
        name=e.name,
        region=e.region,
        tenant_org_id=e.tenant_org_id,
        listen_addr=addr,
        public_base_url=url,
        gui_enabled=e.gui_enabled,
        trust_root=m.trust_root == "bootstrap",
    )
    resolved.packs = _packs(m, base, allow_outside)
    resolved.bundles = _bundles(m, env_id, base, allow_outside)
    resolved.warnings.extend(_link_warnings(m, current))
    resolved.secrets, missing = _secrets(m, env_id, devstore, interactive, prompt, require_all)
    resolved.missing = missing
    if missing and require_all:
        raise InvalidArgument(
            f"cannot apply: {len(missing)} missing input(s): {'; '.join(missing)}",
            hint="export the named variables (values never go in the manifest), or run on a "
            "terminal to be prompted",
        )
    if devstore is not None:
        for s in resolved.secrets:
            if s.value is not None:
                resolved.current_secrets[s.uri] = _peek(devstore, s.uri)
    return resolved


def _peek(devstore: DevStore, uri: str) -> str | None:
    """The stored plaintext (to diff), or None when absent or sealed with another key."""
    try:
        return devstore.get(uri)
    except GreenticError:
        return None
