"""The three Kubernetes verbs over a store: `env render`, `env reconcile`, `env apply-revision`.

Each reads the store (inputs.load), renders, and either writes YAML files or drives a Cluster;
each returns the verb's result dict. The CLI modules in greentic/cli/op/env/ only parse
arguments and call these; the harness calls them directly with `connect=lambda ctx: fake`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from pydantic import Field

from greentic.deployer.common import EnvPayload
from greentic.deployer.k8s import bodies, inputs, manifests, naming, reconcile, render, rollout
from greentic.deployer.k8s.cluster import Cluster, KubeCluster
from greentic.errors import Conflict, NotFound
from greentic.store.envstore import Store

Connect = Callable[[str | None], Cluster]
PRESENT = ("warming", "ready", "draining")


class RenderPayload(EnvPayload):
    """`op env render`: `{environment_id, out?}`."""

    out: str | None = None


class ReconcilePayload(EnvPayload):
    """`op env reconcile`: `{environment_id, context?, dry_run?, wait?, timeout?}`."""

    context: str | None = None
    dry_run: bool = False
    wait: bool = False
    timeout: float = Field(default=rollout.DEFAULT_TIMEOUT, gt=0)


class ApplyRevisionPayload(ReconcilePayload):
    """`op env apply-revision`: the reconcile payload plus `revision_id`."""

    revision_id: str


def _connect(context: str | None) -> Cluster:
    return KubeCluster.connect(context)


def render_env(store: Store, env_id: str, *, out: Path | None = None) -> dict[str, Any]:
    """`{namespace, count, objects:[{apiVersion, kind, name}]}` plus upstream's
    `environment_id, kind, object_count, answers_ref` (+ `out`, `files` with --out)."""
    loaded = inputs.load(store, env_id)
    objs = render.render(loaded)
    deployer = loaded.env.pack("deployer")
    result: dict[str, Any] = {
        "environment_id": env_id,
        "kind": deployer.kind if deployer is not None else None,
        "object_count": len(objs),
        "answers_ref": loaded.answers_ref,
        "namespace": objs[0]["metadata"]["name"],
        "count": len(objs),
        "objects": [bodies.summary(o) for o in objs],
    }
    if out is not None:
        paths = manifests.write_dir(objs, out)
        result |= {"out": str(out), "files": [p.name for p in paths]}
    return result


@contextmanager
def _connected(
    context: str | None, answered: str | None, connect: Connect | None
) -> Iterator[Cluster]:
    """A cluster for the verb, closed after it (a close that fails is not the verb's error).

    `--context` wins over the `kubeconfig_context` answer; neither → current context."""
    cluster = (connect or _connect)(context or answered)
    try:
        yield cluster
    finally:
        close = getattr(cluster, "close", None)
        if callable(close):
            with suppress(Exception):
                close()


def _where(cluster: Cluster) -> dict[str, Any]:
    return {k: getattr(cluster, k) for k in ("context", "server") if hasattr(cluster, k)}


def reconcile_env(
    store: Store,
    env_id: str,
    *,
    context: str | None = None,
    dry_run: bool = False,
    wait: bool = False,
    timeout: float = rollout.DEFAULT_TIMEOUT,
    progress: rollout.Progress | None = None,
    connect: Connect | None = None,
) -> dict[str, Any]:
    """Render `env_id` and reconcile it onto the cluster (SSA + prune)."""
    loaded = inputs.load(store, env_id)
    objs = render.render(loaded)
    with _connected(context, loaded.answers.kubeconfig_context, connect) as cluster:
        result = reconcile.run(
            objs,
            cluster=cluster,
            env_id=env_id,
            dry_run=dry_run,
            wait=wait,
            timeout=timeout,
            progress=progress,
        )
    return {"environment_id": env_id, **_where(cluster), **result}


def apply_revision(
    store: Store,
    env_id: str,
    revision_id: str,
    *,
    context: str | None = None,
    dry_run: bool = False,
    wait: bool = False,
    timeout: float = rollout.DEFAULT_TIMEOUT,
    progress: rollout.Progress | None = None,
    connect: Connect | None = None,
) -> dict[str, Any]:
    """Apply one revision's worker pair; prune it when the revision is archived or failed."""
    loaded = inputs.load(store, env_id)
    rev = loaded.env.revision(revision_id)
    if rev is None:
        raise NotFound(
            f"revision `{revision_id}` not found in environment `{env_id}`",
            hint=f"list them with `gtc op env show {env_id}`",
        )
    if rev.lifecycle == "staged":
        raise Conflict(
            f"revision `{revision_id}` is staged, so it has no worker to apply",
            hint=f"warm it first: gtc op revisions warm {revision_id}",
        )
    name = naming.worker_name(revision_id)
    objs = render.render(loaded)
    pair = [o for o in objs if o["metadata"]["name"] == name] if rev.lifecycle in PRESENT else []
    with _connected(context, loaded.answers.kubeconfig_context, connect) as cluster:
        result = reconcile.apply_revision(
            pair,
            cluster=cluster,
            env_id=env_id,
            revision_id=revision_id,
            namespace=loaded.answers.namespace_for(env_id),
            dry_run=dry_run,
            wait=wait,
            timeout=timeout,
            progress=progress,
        )
    action = "applied" if pair else "pruned"
    return {
        "environment_id": env_id,
        "revision_id": revision_id,
        "lifecycle": rev.lifecycle,
        "action": action,
        **_where(cluster),
        **result,
    }
