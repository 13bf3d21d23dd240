from __future__ import annotations

from typing import Any

import pytest

from greentic.deployer.k8s import naming, reconcile, render
from greentic.deployer.k8s.answers import K8sAnswers
from greentic.deployer.k8s.bodies import Body, ObjectRef, ref, ref_to
from greentic.deployer.k8s.errors import RolloutTimeout
from greentic.deployer.k8s.fake import FakeCluster
from greentic.errors import ApplyConflict
from greentic.spec.environment import Environment

from . import envs


def rendered(env: Environment, dev_store: bytes | None = None) -> list[Body]:
    return render.objects(env, K8sAnswers(), dev_store=dev_store)


def run(objs: list[Body], cluster: FakeCluster, **kw: Any) -> dict[str, Any]:
    return reconcile.run(objs, cluster=cluster, env_id="local", **kw)


def applies(cluster: FakeCluster) -> list[Any]:
    return [c for c in cluster.calls if c.verb == "apply"]


def test_first_reconcile_creates_everything_in_order(m2: Environment, cluster: FakeCluster) -> None:
    objs = rendered(m2)
    result = run(objs, cluster)
    assert result["namespace"] == "gtc-local"
    assert (result["applied"], result["pruned"], result["changed"]) == (14, 0, 14)
    assert [r["action"] for r in result["objects"]] == ["created"] * 14
    assert result["objects"][0] == {"kind": "Namespace", "name": "gtc-local", "action": "created"}
    calls = applies(cluster)
    assert [c.target for c in calls] == [ref(o) for o in objs]
    assert all(
        c.options == {"field_manager": "greentic-deployer", "force": True, "dry_run": False}
        for c in calls
    )
    assert cluster.changes == 14


def test_second_reconcile_changes_nothing(m2: Environment, cluster: FakeCluster) -> None:
    run(rendered(m2), cluster)
    before = cluster.changes
    snapshot = {k: dict(v["metadata"]) for k, v in cluster.objects.items()}
    result = run(rendered(envs.m2_env()), cluster)
    assert cluster.changes == before
    assert (result["applied"], result["pruned"], result["changed"]) == (14, 0, 0)
    assert {r["action"] for r in result["objects"]} == {"unchanged"}
    assert {k: dict(v["metadata"]) for k, v in cluster.objects.items()} == snapshot
    assert not [c for c in cluster.calls if c.verb == "delete"]


def test_archive_prunes_the_worker_pair_by_label(m2: Environment, cluster: FakeCluster) -> None:
    run(rendered(m2), cluster)
    result = run(rendered(envs.archived(m2)), cluster)
    name = naming.worker_name(m2.revisions[0].revision_id)
    assert (result["applied"], result["pruned"]) == (12, 2)
    assert result["objects"][-2:] == [
        {"kind": "Deployment", "name": name, "action": "pruned"},
        {"kind": "Service", "name": name, "action": "pruned"},
    ]
    deletes = [c for c in cluster.calls if c.verb == "delete"]
    assert [c.target.kind for c in deletes] == ["Deployment", "Service"]
    assert all(c.options["labels"] == naming.env_selector("local") for c in deletes)
    assert ref_to("Deployment", name, "gtc-local") not in cluster.objects
    assert ref_to("Namespace", "gtc-local") in cluster.objects
    assert len(cluster.objects) == 12
    # the egress policies flipped back to deny: the only routed revision is gone
    assert [r["action"] for r in result["objects"] if r["name"].endswith("-egress")] == [
        "configured",
        "configured",
    ]


def test_lists_by_manager_label_in_the_namespace(m2: Environment, cluster: FakeCluster) -> None:
    run(rendered(m2), cluster)
    lists = [c for c in cluster.calls if c.verb == "list"]
    assert {c.target for c in lists} >= {"Deployment", "Service", "Namespace"}
    for c in lists:
        assert c.options["labels"] == {"app.kubernetes.io/managed-by": "greentic"}
        assert c.options["namespace"] == (None if c.target == "Namespace" else "gtc-local")


def test_secret_change_rolls_only_the_workers(webchat: Environment, cluster: FakeCluster) -> None:
    run(rendered(webchat, b"one"), cluster)
    result = run(rendered(webchat, b"two"), cluster)
    changed = [(r["kind"], r["name"]) for r in result["objects"] if r["action"] != "unchanged"]
    worker = naming.worker_name(webchat.revisions[0].revision_id)
    assert changed == [("Secret", "gtc-dev-secrets"), ("Deployment", worker)]


def test_dry_run_mutates_nothing(m2: Environment, cluster: FakeCluster) -> None:
    result = run(rendered(m2), cluster, dry_run=True)
    assert cluster.objects == {} and cluster.changes == 0
    assert result["dry_run"] is True and result["changed"] == 14
    assert all(c.options["dry_run"] for c in applies(cluster))
    # the API server 404s a dry run into a namespace that does not exist yet (a real cluster
    # found it): only the Namespace and cluster-scoped objects are sent; the rest are noted
    sent = [c.target for c in applies(cluster)]
    assert all(t.namespace is None for t in sent) and ("Namespace", "gtc-local") in {
        (t.kind, t.name) for t in sent
    }
    unsent = [r for r in result["objects"] if "note" in r]
    assert len(unsent) == 14 - len(sent) and {r["action"] for r in unsent} == {"created"}
    run(rendered(m2), cluster)
    again = run(rendered(envs.archived(m2)), cluster, dry_run=True)
    assert again["pruned"] == 2 and len(cluster.objects) == 14
    assert [r["action"] for r in again["objects"] if r["name"].endswith("-egress")] == [
        "configured",
        "configured",
    ]


def test_failure_names_the_object_and_how_far_it_got(m2: Environment, cluster: FakeCluster) -> None:
    objs = rendered(m2)
    cluster.fail(ref(objs[3]), 409, 'Apply failed with 1 conflict: conflict with "kubectl"')
    with pytest.raises(ApplyConflict) as info:
        run(objs, cluster)
    assert "applying Deployment gtc-router in namespace gtc-local" in str(info.value)
    assert 'conflict with "kubectl"' in str(info.value)
    assert "3 of 14 objects were applied" in (info.value.hint or "")
    assert len(cluster.objects) == 3


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def test_wait_returns_when_rollouts_complete(m2: Environment, cluster: FakeCluster) -> None:
    clock, said = Clock(), []
    run(rendered(m2), cluster, wait=True, clock=clock, sleep=clock.sleep, progress=said.append)
    assert clock.sleeps == []
    assert "rollout: Deployment gtc-router is ready" in said


def test_wait_timeout_names_pod_and_last_event(m2: Environment, cluster: FakeCluster) -> None:
    name = naming.worker_name(m2.revisions[0].revision_id)
    cluster.stall(ref_to("Deployment", name, "gtc-local"))
    labels = {naming.REVISION_LABEL: m2.revisions[0].revision_id}
    cluster.put(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"{name}-abc", "namespace": "gtc-local", "labels": labels},
            "status": {
                "containerStatuses": [
                    {
                        "name": "worker",
                        "state": {
                            "waiting": {
                                "reason": "ImagePullBackOff",
                                "message": "Back-off pulling image",
                            }
                        },
                    }
                ]
            },
        }
    )  # type: ignore[typeddict-unknown-key]
    for i, reason in enumerate(["Scheduled", "BackOff"]):
        cluster.put(
            {
                "apiVersion": "v1",
                "kind": "Event",  # type: ignore[typeddict-unknown-key]
                "metadata": {"name": f"e{i}", "namespace": "gtc-local"},
                "involvedObject": {"kind": "Pod", "name": f"{name}-abc"},
                "reason": reason,
                "message": f"msg {i}",
                "lastTimestamp": f"2026-01-01T00:00:0{i}Z",
            }
        )
    clock, said = Clock(), []
    with pytest.raises(RolloutTimeout) as info:
        run(
            rendered(m2),
            cluster,
            wait=True,
            timeout=10,
            clock=clock,
            sleep=clock.sleep,
            progress=said.append,
        )
    message = str(info.value)
    assert (
        f"rollout of Deployment {name} in namespace gtc-local did not become ready within 10s"
        in message
    )
    assert "availableReplicas 0/1" in message
    assert f"pod {name}-abc" in message
    assert "container worker waiting: ImagePullBackOff: Back-off pulling image" in message
    assert "last event: BackOff: msg 1" in message
    assert clock.now >= 10 and set(clock.sleeps) == {2.0}
    assert any(name in line for line in said)


def test_apply_revision_applies_one_pair(m2: Environment, cluster: FakeCluster) -> None:
    objs = rendered(m2)
    pair = objs[12:]
    rev = m2.revisions[0].revision_id
    kw: dict[str, Any] = {
        "cluster": cluster,
        "env_id": "local",
        "revision_id": rev,
        "namespace": "gtc-local",
    }
    cluster.add_namespace("gtc-local")  # apply-revision follows a reconcile of the env
    result = reconcile.apply_revision(pair, **kw)
    assert [c.target for c in applies(cluster)] == [ref(o) for o in pair]
    assert [r["action"] for r in result["objects"]] == ["created", "created"]
    again = reconcile.apply_revision(pair, **kw)
    assert again["changed"] == 0
    gone = reconcile.apply_revision([], **kw)
    assert gone["pruned"] == 2 and [k.kind for k in cluster.objects] == ["Namespace"]
    delete = next(c for c in cluster.calls if c.verb == "delete")
    assert delete.options["labels"] == {**naming.env_selector("local"), naming.REVISION_LABEL: rev}


def test_fake_failure_statuses_translate(cluster: FakeCluster) -> None:
    from greentic.deployer.k8s.errors import ClusterError
    from greentic.errors import NotFound

    target = ObjectRef("v1", "ConfigMap", "ns", "x")
    cluster.fail(target, 500, "etcd is sad")
    with pytest.raises(
        ClusterError,
        match=r"Kubernetes API error: reading ConfigMap x in namespace ns: etcd is sad "
        r"\(status 500\)",
    ):
        cluster.get(target)
    with pytest.raises(NotFound):
        cluster.get(target)
