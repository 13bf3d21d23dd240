"""Test-only environment variables added to matching pods at translation (a PodPreset).

The rendered pod env comes from the deployer, and it has nothing to say about a test's fake
internet: where the fake Telegram Bot API listens, that the fake cloudflared's edge should
face the pod network, that no trycloudflare host is to be resolved. Kubernetes once had
PodPresets (an admission step that injected env into selected pods); the docker track does
the same, later and smaller: `Pods.presets` are applied to each PodPlan before its pod is
created, never to the stored objects (the rendered YAML in the artifacts stays the product's).
A preset changes the pod's identity, so adding one replaces the matching pods. Only variables
the product does not render may be injected: a preset never overrides what the deployer set.
Used by harness.docker.fakenet (the tunnel scenario's fakes); pure, no I/O.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness.docker.podspec import PodPlan, PodSpecError


@dataclass(frozen=True)
class PodPreset:
    """`env` added to the main containers of every pod whose labels include `selector`."""

    name: str
    selector: Mapping[str, str]
    env: Mapping[str, str]

    def matches(self, plan: PodPlan) -> bool:
        return all(plan.labels.get(k) == v for k, v in self.selector.items())

    def digest(self) -> str:
        doc = {"name": self.name, "selector": dict(self.selector), "env": dict(self.env)}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def apply(plan: PodPlan, presets: Iterable[PodPreset]) -> PodPlan:
    """`plan` with the env of every matching preset added to its main containers (init
    containers stage files, they get none); PodSpecError if a preset would override a
    rendered variable."""
    matching = [p for p in presets if p.matches(plan)]
    if not matching:
        return plan
    containers = []
    for run in plan.containers:
        rendered = dict(run.env)
        added: dict[str, str] = {}
        for preset in matching:
            clash = sorted(set(preset.env) & set(rendered))
            if clash:
                raise PodSpecError(
                    f"pod preset {preset.name} would override {', '.join(clash)} of container "
                    f"{run.name} in Deployment {plan.deployment}, which the deployer rendered"
                    "\nHint: inject only variables the product does not render"
                )
            added.update(preset.env)
        containers.append(dataclasses.replace(run, env=run.env + tuple(sorted(added.items()))))
    salt = "".join(p.digest() for p in matching)
    identity = hashlib.sha256((plan.identity + salt).encode()).hexdigest()
    return dataclasses.replace(plan, containers=tuple(containers), identity=identity)


def describe(presets: Iterable[PodPreset]) -> list[dict[str, object]]:
    """For artifacts: each preset's selector and what it injects (test wiring, no secrets)."""
    return [{"name": p.name, "selector": dict(p.selector), "env": dict(p.env)} for p in presets]
