"""Render an environment to the ordered Kubernetes objects of SPEC §6.3 — a pure function.

`objects(env, answers, dev_store=…)` returns plain dicts in apply order: 12 env-level objects,
the optional router Ingress, the dev-store Secret when a dev-store secrets slot is bound, then
a worker Deployment + Service per warming/ready/draining revision (their pod spec is built by
`pods`). The same inputs give the same bytes. Called by `op env render|reconcile|apply-revision`
and the harness; the store is read by `inputs.load` (which returns the RenderInputs defined
here), never here: import-linter keeps this module off greentic.store, greentic.fetch and the
cluster/docker/HTTP clients.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from greentic.deployer.k8s import bindings, naming
from greentic.deployer.k8s.answers import K8sAnswers
from greentic.deployer.k8s.bodies import Body, Meta
from greentic.deployer.k8s.pods import DEV_SECRETS_KEY, SERVE_PORT, Pod, pod_spec
from greentic.errors import Conflict
from greentic.spec import runtime_config
from greentic.spec.environment import ROUTABLE, Environment, Revision

__all__ = ["RenderInputs", "dev_store_hash", "objects", "render"]

EMPTY_DEV_STORE = b"<empty>"
CONFIGMAP_LIMIT = 1024 * 1024

# Builders below return fresh dicts: no sub-object is shared between (or within) objects, so
# a caller may mutate one object and YAML output never needs anchors.


def dev_store_hash(dev_store: bytes | None) -> str:
    """sha256 hex of the Secret's base64 data (of `<empty>` when there is none)."""
    data = base64.b64encode(dev_store).decode() if dev_store else None
    return hashlib.sha256(data.encode() if data else EMPTY_DEV_STORE).hexdigest()


@dataclass(frozen=True)
class RenderInputs:
    """What `objects` needs, already read and validated (by `inputs.load`, or a test)."""

    env: Environment
    env_json: str
    answers: K8sAnswers
    dev_store: bytes | None
    answers_ref: str | None = None


def stored_form(env: Environment) -> str:
    """environment.json as the store writes it (`greentic.store.atomic.pretty_json`).

    Restated here because this pure module may not import the store; a unit test pins the two
    forms equal.
    """
    return json.dumps(env.to_json_dict(), indent=2, ensure_ascii=False) + "\n"


def render(inputs: RenderInputs) -> list[Body]:
    """`objects` over what inputs.load read from the store."""
    return objects(inputs.env, inputs.answers, dev_store=inputs.dev_store, env_json=inputs.env_json)


def objects(
    env: Environment,
    answers: K8sAnswers,
    *,
    dev_store: bytes | None,
    env_json: str | None = None,
) -> list[Body]:
    """Every object of `env`, in apply order. `env_json` = environment.json as stored."""
    ctx = _Ctx(env, answers, dev_store, bindings.stages_dev_store(env))
    _refuse_competing_tunnels(env, answers)
    stored = env_json if env_json is not None else stored_form(env)
    out: list[Body] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": _meta(ctx, ctx.ns, "namespace", namespaced=False),
        },
        _env_store(ctx, stored),
        _config_map(ctx, naming.RUNTIME_CONFIG, "router", "runtime-config.json", _rc_json(env)),
        _router(ctx),
        _service(ctx, naming.ROUTER, "router", naming.common_labels(ctx.env_id, "router")),
        _pdb(ctx),
    ]
    if answers.ingress is not None:
        out.append(_ingress(ctx))
    out.extend(_network_policies(ctx))
    if ctx.stages_dev_store:
        out.append(_secret(ctx))
    for rev in env.revisions:
        if rev.lifecycle in ROUTABLE:
            labels = _worker_labels(ctx.env_id, rev)
            out.append(_worker(ctx, rev, labels))
            name = naming.worker_name(rev.revision_id)
            selector = {naming.REVISION_LABEL: rev.revision_id}
            out.append(_service(ctx, name, "worker", selector, labels))
    return out


class _Ctx:
    """What every builder needs, computed once per render."""

    def __init__(
        self, env: Environment, answers: K8sAnswers, dev_store: bytes | None, stages: bool
    ) -> None:
        self.env = env
        self.env_id = env.environment_id
        self.answers = answers
        self.ns = answers.namespace_for(env.environment_id)
        self.dev_store = dev_store
        self.stages_dev_store = stages
        self.pod = Pod(self.env_id, answers, stages)


def _refuse_competing_tunnels(env: Environment, answers: K8sAnswers) -> None:
    if answers.tunnel != "cloudflared":
        return
    routed = sorted({rev.revision_id for rev, _ in env.routed_revisions()})
    if len(routed) > 1:
        raise Conflict(
            f"tunnel `cloudflared` serves a single revision, but {len(routed)} revisions are "
            f"routed ({', '.join(routed)}): every worker pod starts its own cloudflared quick "
            f"tunnel and registers its own provider webhook, so {len(routed)} webhooks would "
            "compete and each registration would steal updates from the others",
            hint="route 100% to one revision, or set `tunnel: off` and expose the router "
            "through an Ingress (`ingress: {host: …}`) with a stable public_base_url",
        )


def _meta(
    ctx: _Ctx,
    name: str,
    component: str,
    labels: dict[str, str] | None = None,
    *,
    namespaced: bool = True,
) -> Meta:
    meta: Meta = {"name": name}
    if namespaced:
        meta["namespace"] = ctx.ns
    meta["labels"] = dict(labels) if labels else naming.common_labels(ctx.env_id, component)
    return meta


def _config_map(ctx: _Ctx, name: str, component: str, key: str, value: str) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(ctx, name, component),
        "data": {key: value},
    }


def _env_store(ctx: _Ctx, stored: str) -> Body:
    size = len(stored.encode())
    if size > CONFIGMAP_LIMIT:
        raise Conflict(
            f"environment.json of `{ctx.env_id}` is {size} bytes; the ConfigMap "
            f"{naming.ENV_STORE} that carries it holds at most {CONFIGMAP_LIMIT} bytes",
            hint="archive old revisions and drop unused bundles, then render again",
        )
    return _config_map(ctx, naming.ENV_STORE, "env-store", "environment.json", stored)


def _rc_json(env: Environment) -> str:
    doc = runtime_config.project(env).to_json_dict()
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _router(ctx: _Ctx) -> Body:
    def labels() -> dict[str, str]:
        return naming.common_labels(ctx.env_id, "router")

    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(ctx, naming.ROUTER, "router"),
        "spec": {
            "replicas": ctx.answers.router_replicas,
            "selector": {"matchLabels": labels()},
            "template": {
                "metadata": {"labels": labels()},
                "spec": pod_spec(ctx.pod, "router", None),
            },
        },
    }


def _worker_labels(env_id: str, rev: Revision) -> dict[str, str]:
    return naming.worker_labels(
        env_id,
        revision_id=rev.revision_id,
        deployment_id=rev.deployment_id,
        bundle_id=rev.bundle_id,
    )


def _worker(ctx: _Ctx, rev: Revision, labels: dict[str, str]) -> Body:
    template_meta: dict[str, Any] = {"labels": dict(labels)}
    if ctx.stages_dev_store:
        template_meta["annotations"] = {naming.DEV_STORE_HASH: dev_store_hash(ctx.dev_store)}
    name = naming.worker_name(rev.revision_id)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(ctx, name, "worker", labels),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {naming.REVISION_LABEL: rev.revision_id}},
            "template": {"metadata": template_meta, "spec": pod_spec(ctx.pod, "worker", rev)},
        },
    }


def _service(
    ctx: _Ctx,
    name: str,
    component: str,
    selector: dict[str, str],
    labels: dict[str, str] | None = None,
) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(ctx, name, component, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(selector),
            "ports": [{"name": "http", "port": SERVE_PORT, "targetPort": SERVE_PORT}],
        },
    }


def _pdb(ctx: _Ctx) -> Body:
    labels = naming.common_labels(ctx.env_id, "router")
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(ctx, naming.ROUTER, "router"),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}},
    }


def _ingress(ctx: _Ctx) -> Body:
    ing = ctx.answers.ingress
    assert ing is not None
    backend = {"service": {"name": naming.ROUTER, "port": {"number": SERVE_PORT}}}
    spec: dict[str, Any] = {}
    if ing.class_name:
        spec["ingressClassName"] = ing.class_name
    if ing.tls_secret:
        spec["tls"] = [{"hosts": [ing.host], "secretName": ing.tls_secret}]
    spec["rules"] = [
        {
            "host": ing.host,
            "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
        }
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(ctx, naming.ROUTER, "router"),
        "spec": spec,
    }


def _pulls_at_boot(env: Environment) -> bool:
    """Some traffic-split entry points at a revision with a bundle_source_uri."""
    pullable = {r.revision_id for r in env.revisions if r.bundle_source_uri}
    return any(e.revision_id in pullable for s in env.traffic_splits for e in s.entries)


def _network_policies(ctx: _Ctx) -> list[Body]:
    """Default-deny, DNS, router/worker ingress, and the two egress toggles (always 6)."""
    pulls = _pulls_at_boot(ctx.env)

    def tcp() -> list[dict[str, Any]]:
        return [{"protocol": "TCP", "port": SERVE_PORT}]

    def component(name: str) -> dict[str, Any]:
        return {"matchLabels": {naming.COMPONENT: name}}

    def scoped(name: str) -> dict[str, Any]:
        return {"matchLabels": naming.common_labels(ctx.env_id, name)}

    def egress_toggle(name: str) -> dict[str, Any]:
        return {
            "podSelector": scoped(name),
            "policyTypes": ["Egress"],
            "egress": [{}] if pulls else [],
        }

    dns = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    specs: list[tuple[str, dict[str, Any]]] = [
        ("gtc-default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        (
            "gtc-allow-dns",
            {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": dns}]},
        ),
        (
            "gtc-allow-router",
            {
                "podSelector": scoped("router"),
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"ports": tcp()}],
                "egress": [{"to": [{"podSelector": component("worker")}], "ports": tcp()}],
            },
        ),
        (
            "gtc-allow-workers",
            {
                "podSelector": component("worker"),
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": component("router")}], "ports": tcp()}],
            },
        ),
        ("gtc-allow-worker-egress", egress_toggle("worker")),
        ("gtc-allow-router-egress", egress_toggle("router")),
    ]
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta(ctx, name, "network-policy"),
            "spec": spec,
        }
        for name, spec in specs
    ]


def _secret(ctx: _Ctx) -> Body:
    data = {DEV_SECRETS_KEY: base64.b64encode(ctx.dev_store).decode()} if ctx.dev_store else {}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(ctx, naming.DEV_SECRETS, "dev-secrets"),
        "type": "Opaque",
        "data": data,
    }
