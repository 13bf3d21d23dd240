"""The pure diff of `env apply`: current env + resolved manifest → an ordered plan of steps.

Order: ensure-environment, update-host-config, bootstrap-trust-root, pack bindings,
put-secret, update-bundle/deploy-bundle, add-endpoint, link-endpoint. Each step carries
kind, key, action (create|update|put|no-op), a human detail and an idempotency key derived
from the desired state. No I/O; `render` formats the plan for stderr.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from greentic.deployer import deploy, env_packs
from greentic.deployer.apply.resolve import Resolved, ResolvedBundle, ResolvedPack
from greentic.deployer.env import LOCAL_LISTEN_ADDR, default_bindings
from greentic.deployer.revisions import Pinned
from greentic.errors import Conflict
from greentic.spec.environment import BundleDeployment, EnvPackBinding
from greentic.spec.manifest import SCHEMA, EnvManifest
from greentic.store import ids

Action = Literal["create", "update", "put", "no-op"]
HOST_FIELDS = ("name", "region", "tenant_org_id", "listen_addr", "public_base_url", "gui_enabled")


@dataclass(frozen=True)
class Step:
    kind: str
    key: str
    action: Action
    detail: str
    idempotency_key: str | None = None
    data: Any = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "action": self.action,
            "detail": self.detail,
            "idempotency_key": self.idempotency_key,
        }


@dataclass(frozen=True)
class Plan:
    env_id: str
    steps: tuple[Step, ...]

    @property
    def pending(self) -> list[Step]:
        """Steps that would change something."""
        return [s for s in self.steps if s.action != "no-op"]


def step_key(env_id: str, kind: str, key: str, desired: Any) -> str:
    """ULID of sha256(schema, env, kind, natural key, hash of the desired state)."""
    blob = json.dumps(desired, sort_keys=True, separators=(",", ":"), default=str)
    return ids.derived_ulid(SCHEMA, env_id, kind, key, hashlib.sha256(blob.encode()).hexdigest())


def _host(r: Resolved) -> list[Step]:
    if r.current is not None:
        hc = r.current.host_config
        have: dict[str, Any] = {"name": r.current.name, **hc.model_dump()}
    else:
        have = {"name": "local", "listen_addr": LOCAL_LISTEN_ADDR}
        have["public_base_url"] = r.public_base_url  # env init sets it
    want = {f: getattr(r, f) for f in HOST_FIELDS if getattr(r, f) is not None}
    diff = {f: v for f, v in want.items() if have.get(f) != v}
    detail = ", ".join(f"{f}: {have.get(f)!r} → {v!r}" for f, v in diff.items()) or "unchanged"
    action: Action = "update" if diff else "no-op"
    return [
        Step(
            "update-host-config",
            r.env_id,
            action,
            detail,
            step_key(r.env_id, "update-host-config", r.env_id, want),
            data=diff,
        )
    ]


def _bindings(r: Resolved) -> dict[str, EnvPackBinding]:
    packs = r.current.packs if r.current is not None else default_bindings()
    return {p.slot: p for p in packs}


def _pack(r: Resolved, rp: ResolvedPack, old: EnvPackBinding | None, staged: bytes | None) -> Step:
    new = EnvPackBinding(
        slot=rp.slot,
        kind=rp.kind,
        pack_ref=rp.pack_ref,
        answers_ref=env_packs.staged_ref(rp.slot) if rp.answers is not None else None,
    )
    current = staged if rp.answers is not None else None
    kind = "add-pack-binding" if old is None else "update-pack-binding"
    desired = {
        "kind": rp.kind,
        "pack_ref": rp.pack_ref,
        "answers_sha256": hashlib.sha256(rp.answers).hexdigest() if rp.answers else None,
    }
    ikey = step_key(r.env_id, kind, rp.slot, desired)
    if old is None:
        return Step(kind, rp.slot, "create", f"bind {rp.kind}", ikey, data=rp)
    if not env_packs.binding_changes(old, new, rp.answers, current):
        return Step(kind, rp.slot, "no-op", f"{rp.kind} unchanged", ikey, data=rp)
    what = []
    if old.kind != new.kind:
        what.append(f"kind {old.kind} → {new.kind}")
    if old.pack_ref != new.pack_ref:
        what.append(f"pack_ref {old.pack_ref} → {new.pack_ref}")
    if old.answers_ref != new.answers_ref or rp.answers != current:
        what.append(f"answers from {rp.source}" if rp.source else "answers removed")
    return Step(kind, rp.slot, "update", "; ".join(what), ikey, data=rp)


def _secrets(r: Resolved) -> list[Step]:
    out = []
    for s in r.secrets:
        if s.missing:
            out.append(Step("put-secret", s.path, "put", f"value missing: {s.source}", data=s))
        elif s.value is None:
            out.append(Step("put-secret", s.path, "no-op", "already in the dev-store", data=s))
        elif r.current_secrets.get(s.uri) == s.value.reveal():
            out.append(Step("put-secret", s.path, "no-op", f"unchanged ({s.source})", data=s))
        else:
            out.append(Step("put-secret", s.path, "put", f"value from {s.source}", data=s))
    return out


def _deployment(r: Resolved, rb: ResolvedBundle) -> BundleDeployment | None:
    if r.current is None:
        return None
    for dep in r.current.bundles:
        if dep.bundle_id != rb.bundle_id:
            continue
        if dep.customer_id == rb.customer_id:
            return dep
        raise Conflict(
            f"bundle `{rb.bundle_id}` is deployed in env `{r.env_id}` for customer "
            f"`{dep.customer_id}`, but the manifest resolves customer `{rb.customer_id}`"
        )
    return None


def _bundles(r: Resolved) -> list[Step]:
    out = []
    for rb in r.bundles:
        desired = {
            "digest": rb.digest,
            "uri": rb.source_uri,
            "customer": rb.customer_id,
            "route": rb.route_binding.to_json_dict() if rb.route_binding else None,
        }
        ikey = step_key(r.env_id, "deploy-bundle", rb.bundle_id, desired)
        where = rb.source_uri or (rb.path.name if rb.path else "")
        dep = _deployment(r, rb)
        if dep is None:
            detail = f"{rb.digest[:19]}… from {where} → 100%"
            out.append(Step("deploy-bundle", rb.bundle_id, "create", detail, ikey, data=rb))
            continue
        if rb.route_binding is not None and rb.route_binding != dep.route_binding:
            rkey = step_key(r.env_id, "update-bundle", rb.bundle_id, desired["route"])
            out.append(
                Step("update-bundle", rb.bundle_id, "update", "route_binding", rkey, data=rb)
            )
        assert r.current is not None
        pinned = Pinned(digest=rb.digest, path=rb.path, source_uri=rb.source_uri)
        done = deploy.converged_revision(r.current, dep, pinned)
        if done is not None:
            detail = f"revision {done.revision_id} already at 100%"
            out.append(Step("deploy-bundle", rb.bundle_id, "no-op", detail, ikey, data=rb))
        else:
            detail = f"re-stage {rb.digest[:19]}… from {where} → 100%"
            out.append(Step("deploy-bundle", rb.bundle_id, "update", detail, ikey, data=rb))
    return out


def _endpoints(r: Resolved, m: EnvManifest) -> list[Step]:
    out = []
    existing = r.current.messaging_endpoints if r.current is not None else []
    for ep in m.messaging_endpoints:
        match = None
        for cur in existing:
            if cur.display_name != ep.name:
                continue
            if cur.provider_type != ep.provider_type:
                raise Conflict(
                    f"messaging endpoint `{ep.name}` exists with provider_type "
                    f"`{cur.provider_type}`, the manifest says `{ep.provider_type}`"
                )
            match = cur
        desired = {"provider_type": ep.provider_type, "secret_refs": ep.secret_refs}
        ikey = step_key(r.env_id, "add-endpoint", ep.name, desired)
        if match is None:
            out.append(Step("add-endpoint", ep.name, "create", ep.provider_type, ikey, data=ep))
        else:
            detail = f"{match.endpoint_id} exists"
            out.append(Step("add-endpoint", ep.name, "no-op", detail, ikey, data=ep))
        linked = set(match.linked_bundles) if match is not None else set()
        for link in ep.links:
            key = f"{ep.name}->{link}"
            lkey = step_key(r.env_id, "link-endpoint", key, link)
            action: Action = "no-op" if link in linked else "create"
            out.append(Step("link-endpoint", key, action, f"link {link}", lkey, data=(ep, link)))
    return out


def diff(
    r: Resolved,
    m: EnvManifest,
    *,
    staged_answers: dict[str, bytes | None],
    operator_trusted: bool,
) -> Plan:
    """The ordered plan (pure): what apply would do to reach the manifest."""
    env_id = r.env_id
    steps: list[Step] = []
    if r.current is None:
        steps.append(Step("ensure-environment", env_id, "create", "env init (default bindings)"))
    else:
        steps.append(Step("ensure-environment", env_id, "no-op", "exists"))
    steps += _host(r)
    if r.trust_root:
        if r.current is not None and operator_trusted:
            steps.append(
                Step("bootstrap-trust-root", env_id, "no-op", "operator key already trusted")
            )
        else:
            steps.append(Step("bootstrap-trust-root", env_id, "create", "trust the operator key"))
    bound = _bindings(r)
    for rp in r.packs:
        steps.append(_pack(r, rp, bound.get(rp.slot), staged_answers.get(rp.slot)))
    steps += _secrets(r)
    steps += _bundles(r)
    steps += _endpoints(r, m)
    return Plan(env_id=env_id, steps=tuple(steps))


def render(plan: Plan) -> list[str]:
    """The plan as stderr lines: `plan (N step(s)):` then one row per step."""
    lines = [f"plan ({len(plan.steps)} step(s)) for env `{plan.env_id}`:"]
    for i, s in enumerate(plan.steps, start=1):
        lines.append(f"  {i:>2}. {s.kind:<21} {s.action:<7} {s.key}  — {s.detail}")
    return lines
