"""Project runtime-config + loaded packs into the active routing table (reference worker §2.4).

Each block with weight > 0 needs an `active` deployment bound to the same bundle and at least
one pack; every flow is compiled now, so a broken pack fails the boot, not a request. Entry
flow: in the first pack with flows, `default`, else the first `messaging` flow, else the first.
Pure; `boot` loads the packs and calls `activate`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from greentic.errors import SpecError
from greentic.flow import engine
from greentic.flow.compiler import compile_flow
from greentic.flow.model import Flow
from greentic.spec.environment import BundleDeployment, Environment
from greentic.spec.runtime_config import RuntimeConfig, RuntimeRevision
from greentic.worker import routing


class PackLike(Protocol):
    """What activation needs of a loaded pack (greentic.bundle.reader.LoadedPack)."""

    @property
    def pack_id(self) -> str: ...

    @property
    def manifest(self) -> Mapping[str, Any]: ...

    @property
    def flows(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class ActiveRevision:
    """A routed revision, ready to run: its compiled flows and the entry flow's id."""

    revision_id: str
    deployment_id: str
    bundle_id: str
    weight_bps: int
    pack_ids: tuple[str, ...]
    flows: Mapping[str, Flow] = field(default_factory=dict)
    entry_flow: str | None = None

    def run(self, entry: Any, *, state: MutableMapping[str, Any]) -> engine.Outcome:
        """Run the entry flow; raises engine.FlowFailed when it cannot finish."""
        if self.entry_flow is None:
            raise engine.FlowFailed(f"revision {self.revision_id} has no flow to run")
        return engine.run(self.flows[self.entry_flow], entry, flows=self.flows.get, state=state)


@dataclass(frozen=True)
class ActiveDeployment:
    """A routed deployment: its route and its weighted revisions (weight > 0, split order)."""

    route: routing.Route
    revisions: tuple[ActiveRevision, ...]

    @functools.cached_property
    def weights(self) -> tuple[tuple[str, int], ...]:
        return tuple((r.revision_id, r.weight_bps) for r in self.revisions)

    @functools.cached_property
    def _by_id(self) -> dict[str, ActiveRevision]:
        return {r.revision_id: r for r in self.revisions}

    def revision(self, revision_id: str) -> ActiveRevision:
        return self._by_id[revision_id]


@dataclass(frozen=True)
class Activation:
    """The whole active table of one env; the counts feed the banner and /status."""

    env_id: str
    deployments: tuple[ActiveDeployment, ...] = ()
    endpoints: Mapping[str, frozenset[str]] = field(default_factory=dict)  # id → linked bundles
    active_deployments: int = 0  # deployments with status `active`, routed or not

    @functools.cached_property
    def routes(self) -> tuple[routing.Route, ...]:
        return tuple(d.route for d in self.deployments)

    @property
    def revisions_active(self) -> int:
        return sum(len(d.revisions) for d in self.deployments)

    @property
    def deployments_routed(self) -> int:
        return len(self.deployments)

    @property
    def bundles_active(self) -> int:
        """Active deployments of the env's route table (upstream's `/status` meaning): a
        deployment counts while its status is `active`, whether or not traffic reaches it."""
        return self.active_deployments

    @functools.cached_property
    def _by_id(self) -> dict[str, ActiveDeployment]:
        return {d.route.deployment_id: d for d in self.deployments}

    def deployment(self, deployment_id: str) -> ActiveDeployment:
        return self._by_id[deployment_id]


def routed_blocks(rc: RuntimeConfig | None) -> list[RuntimeRevision]:
    """The runtime-config blocks that carry traffic (the ones whose packs must be loaded)."""
    return [b for b in (rc.revisions if rc else []) if b.weight_bps > 0]


def route_for(dep: BundleDeployment) -> routing.Route:
    """A deployment's route binding, normalised (reference worker §4.3)."""
    binding = dep.route_binding
    prefixes = tuple(dict.fromkeys(routing.normalize_prefix(p) for p in binding.path_prefixes))
    return routing.Route(
        deployment_id=dep.deployment_id,
        bundle_id=dep.bundle_id,
        tenant=binding.tenant_selector.tenant,
        team=binding.tenant_selector.team,
        hosts=routing.normalize_hosts(binding.hosts),
        prefixes=prefixes or ("/",),
    )


def entry_flow_id(packs: Sequence[PackLike]) -> str | None:
    """The flow a request runs (see the module docstring)."""
    for pack in packs:
        listed = [f for f in pack.manifest.get("flows", []) if f.get("id") in pack.flows]
        ids = [str(f["id"]) for f in listed] or list(pack.flows)
        if not ids:
            continue
        if "default" in ids:
            return "default"
        kinds = {str(f["id"]): f.get("kind") for f in listed}
        return next((i for i in ids if kinds.get(i) == "messaging"), ids[0])
    return None


def compile_revision(block: RuntimeRevision, packs: Sequence[PackLike]) -> ActiveRevision:
    """Compile every flow of a revision's packs (the first pack wins a duplicate flow id)."""
    if not packs:
        raise SpecError(f"revision `{block.revision_id}` resolved to no pinned packs")
    flows: dict[str, Flow] = {}
    for pack in packs:
        for flow_id, source in pack.flows.items():
            what = f"revision `{block.revision_id}` pack `{pack.pack_id}` flow"  # + `<id>`
            try:
                flows.setdefault(flow_id, compile_flow(source, what=what))
            except SpecError as exc:
                raise SpecError(
                    exc.message,
                    hint=f"fix flows/{flow_id}.ygtc of pack `{pack.pack_id}`, rebuild the bundle "
                    "(`gtc bundle build`) and stage it as a new revision",
                ) from None
    return ActiveRevision(
        revision_id=block.revision_id,
        deployment_id=block.deployment_id,
        bundle_id=block.bundle_id,
        weight_bps=block.weight_bps,
        pack_ids=tuple(p.pack_id for p in packs),
        flows=flows,
        entry_flow=entry_flow_id(packs),
    )


def check_block(env: Environment, block: RuntimeRevision) -> BundleDeployment:
    """The block's deployment, or the SpecError that refuses a stale runtime-config."""
    env_id = env.environment_id
    dep = env.deployment(block.deployment_id)
    if dep is None:
        raise SpecError(
            f"runtime-config references deployment `{block.deployment_id}` that is not present "
            f"in environment `{env_id}`"
        )
    if dep.status != "active":
        raise SpecError(
            f"runtime-config references deployment `{block.deployment_id}` whose status is "
            f"{dep.status}, not active — refusing to activate a stale runtime-config"
        )
    if dep.bundle_id != block.bundle_id:
        raise SpecError(
            f"runtime-config pins bundle `{block.bundle_id}` for deployment "
            f"`{block.deployment_id}`, but that deployment is bound to bundle `{dep.bundle_id}`"
        )
    return dep


def activate(
    env: Environment,
    rc: RuntimeConfig | None,
    packs: Mapping[str, Sequence[PackLike]],
) -> Activation:
    """The active table for `env`; `packs` maps each routed revision id to its loaded packs."""
    grouped: dict[str, tuple[BundleDeployment, list[ActiveRevision]]] = {}
    for block in routed_blocks(rc):
        dep = check_block(env, block)
        revision = compile_revision(block, packs.get(block.revision_id, ()))
        grouped.setdefault(dep.deployment_id, (dep, []))[1].append(revision)
    deployments = tuple(
        ActiveDeployment(route=route_for(dep), revisions=tuple(revs))
        for dep, revs in grouped.values()
    )
    # Route ties go to the first deployment in env order (reference worker §4.3).
    order = {b.deployment_id: i for i, b in enumerate(env.bundles)}
    deployments = tuple(sorted(deployments, key=lambda d: order[d.route.deployment_id]))
    endpoints = {ep.endpoint_id: frozenset(ep.linked_bundles) for ep in env.messaging_endpoints}
    return Activation(
        env_id=env.environment_id,
        deployments=deployments,
        endpoints=endpoints,
        active_deployments=sum(1 for b in env.bundles if b.status == "active"),
    )
