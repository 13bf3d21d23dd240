"""Execute a plan against a Cluster: server-side apply in order, prune, optionally wait.

`run` lists what is live, plans, applies each object (field manager `greentic-deployer`,
force), prunes by the env's label selector and returns the `op env reconcile` result.
An action is `created` (nothing was live), `configured` (the server moved the
resourceVersion, or a dry run would change content) or `unchanged`; a second run with no
change is all `unchanged` and mutates nothing. `apply_revision` does the same for one
worker pair. Called by the CLI verbs and the harness.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from greentic.deployer.k8s import naming, plan, rollout
from greentic.deployer.k8s.bodies import Body, ObjectRef, kind_info, ref
from greentic.deployer.k8s.cluster import FIELD_MANAGER, Cluster
from greentic.errors import GreenticError, NotFound

Row = dict[str, str]


def live_objects(cluster: Cluster, namespace: str) -> list[Body]:
    """Every object of a rendered kind in `namespace` (and Namespaces) this deployer manages."""
    mine = {naming.MANAGED_BY: naming.MANAGER}
    out: list[Body] = []
    for kind in plan.LISTED:
        scope = namespace if kind_info(kind).namespaced else None
        out += cluster.list(kind, namespace=scope, labels=mine)
    return out


def action(live: Body | None, answer: Body, *, dry_run: bool) -> str:
    if live is None:
        return "created"
    if answer["metadata"].get("resourceVersion") != live["metadata"].get("resourceVersion"):
        return "configured"
    if dry_run and _content(answer) != _content(live):
        return "configured"
    return "unchanged"


def _content(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    keep = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
    return keep | {"labels": meta.get("labels"), "annotations": meta.get("annotations")}


def apply_all(
    objs: Sequence[Body],
    live: Mapping[ObjectRef, Body],
    *,
    cluster: Cluster,
    dry_run: bool,
    say: rollout.Progress,
) -> list[Row]:
    """Apply one object at a time so a failure says how far the apply got.

    A dry run cannot send an object of a namespace it would create: the API server answers
    404 for a namespace that does not exist yet, dry run or not (found on a real cluster).
    Such objects are reported `created`, with a note that the server did not validate them."""
    rows: list[Row] = []
    new_namespaces: set[str] = set()
    for i, obj in enumerate(objs):
        row = {"kind": obj["kind"], "name": obj["metadata"]["name"]}
        if dry_run and obj["metadata"].get("namespace") in new_namespaces:
            row |= {"action": "created", "note": "not sent to the API server: namespace is new"}
            say(f"{row['action']:>10}  {row['kind']} {row['name']} (its namespace is new)")
            rows.append(row)
            continue
        try:
            (answer,) = cluster.apply(
                [obj], field_manager=FIELD_MANAGER, force=True, dry_run=dry_run
            )
        except GreenticError as exc:
            done = f"{i} of {len(objs)} objects were applied before this failure"
            exc.hint = f"{exc.hint}; {done}" if exc.hint else f"{done}; re-run once fixed"
            raise
        row["action"] = action(live.get(ref(obj)), answer, dry_run=dry_run)
        if obj["kind"] == "Namespace" and row["action"] == "created":
            new_namespaces.add(row["name"])
        say(f"{row['action']:>10}  {row['kind']} {row['name']}")
        rows.append(row)
    return rows


def run(
    objs: Sequence[Body],
    *,
    cluster: Cluster,
    env_id: str,
    dry_run: bool = False,
    wait: bool = False,
    timeout: float = rollout.DEFAULT_TIMEOUT,
    progress: rollout.Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Reconcile the rendered `objs` of `env_id`; returns the `op env reconcile` result."""
    say = progress or (lambda _msg: None)
    namespace = objs[0]["metadata"]["name"] if objs else ""
    todo = plan.plan(objs, live_objects(cluster, namespace), selector=naming.env_selector(env_id))
    rows = apply_all(todo.apply, todo.live, cluster=cluster, dry_run=dry_run, say=say)
    for key in todo.prune:
        cluster.delete(key, labels=todo.selector, dry_run=dry_run)
        say(f"{'pruned':>10}  {key.kind} {key.name}")
        rows.append({"kind": key.kind, "name": key.name, "action": "pruned"})
    if wait and not dry_run:
        deployments = [ref(o) for o in todo.apply if o["kind"] == "Deployment"]
        rollout.wait(cluster, deployments, timeout=timeout, progress=say, clock=clock, sleep=sleep)
    return _result(todo.namespace, rows, dry_run, applied=len(todo.apply), pruned=len(todo.prune))


def _result(namespace: str, rows: list[Row], dry_run: bool, **counts: int) -> dict[str, Any]:
    changed = sum(1 for r in rows if r["action"] != "unchanged")
    return {
        "namespace": namespace,
        **counts,
        "changed": changed,
        "dry_run": dry_run,
        "objects": rows,
    }


def apply_revision(
    pair: Sequence[Body],
    *,
    cluster: Cluster,
    env_id: str,
    revision_id: str,
    namespace: str,
    dry_run: bool = False,
    wait: bool = False,
    timeout: float = rollout.DEFAULT_TIMEOUT,
    progress: rollout.Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Apply one revision's worker pair, or prune it when `pair` is empty (not present)."""
    say = progress or (lambda _msg: None)
    if not pair:
        name = naming.worker_name(revision_id)
        guard = {**naming.env_selector(env_id), naming.REVISION_LABEL: revision_id}
        rows = []
        for kind in ("Deployment", "Service"):
            cluster.delete(
                ObjectRef(kind_info(kind).api_version, kind, namespace, name),
                labels=guard,
                dry_run=dry_run,
            )
            rows.append({"kind": kind, "name": name, "action": "pruned"})
        return _result(namespace, rows, dry_run, applied=0, pruned=len(rows))
    live: dict[ObjectRef, Body] = {}
    for obj in pair:
        with contextlib.suppress(NotFound):
            live[ref(obj)] = cluster.get(ref(obj))
    rows = apply_all(pair, live, cluster=cluster, dry_run=dry_run, say=say)
    if wait and not dry_run:
        deployments = [ref(o) for o in pair if o["kind"] == "Deployment"]
        rollout.wait(cluster, deployments, timeout=timeout, progress=say, clock=clock, sleep=sleep)
    return _result(namespace, rows, dry_run, applied=len(pair), pruned=0)
