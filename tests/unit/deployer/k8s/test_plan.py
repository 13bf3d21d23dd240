from __future__ import annotations

import copy
from typing import Any

import pytest

from greentic.deployer.k8s import naming, plan, render
from greentic.deployer.k8s.answers import K8sAnswers
from greentic.deployer.k8s.bodies import Body, ref
from greentic.errors import Conflict
from greentic.spec.environment import Environment

from . import envs

SELECTOR = naming.env_selector("local")


def rendered(env: Environment) -> list[Body]:
    return render.objects(env, K8sAnswers(), dev_store=None)


def test_first_reconcile_applies_everything_and_prunes_nothing(m2: Environment) -> None:
    todo = plan.plan(rendered(m2), [], selector=SELECTOR)
    assert todo.namespace == "gtc-local"
    assert [ref(o) for o in todo.apply] == [ref(o) for o in rendered(m2)]
    assert todo.prune == ()
    assert todo.live == {}


def test_archive_gives_12_applied_and_2_pruned(m2: Environment) -> None:
    live = rendered(m2)
    todo = plan.plan(rendered(envs.archived(m2)), live, selector=SELECTOR)
    assert len(todo.apply) == 12
    name = naming.worker_name(m2.revisions[0].revision_id)
    assert [(r.kind, r.name) for r in todo.prune] == [("Deployment", name), ("Service", name)]
    assert all(r.namespace == "gtc-local" for r in todo.prune)


def test_prune_order_is_reverse_rank_then_pairs() -> None:
    two = envs.m2_env(revisions=2)
    live = [
        *rendered(two),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "gtc-old", "namespace": "gtc-local", "labels": dict(SELECTOR)},
        },
    ]
    todo = plan.plan(rendered(envs.archived(two)), live, selector=SELECTOR)
    w0, w1 = sorted(naming.worker_name(r.revision_id) for r in two.revisions)
    assert [(r.kind, r.name) for r in todo.prune] == [
        ("Deployment", w0),
        ("Service", w0),
        ("Deployment", w1),
        ("Service", w1),
        ("ConfigMap", "gtc-old"),
    ]


def test_never_prunes_namespace_or_foreign_objects(m2: Environment) -> None:
    other_env = rendered(envs.m2_env("other"))
    for obj in other_env:  # another env's objects placed in our namespace
        if obj["kind"] != "Namespace":
            obj["metadata"]["namespace"] = "gtc-local"
    stray_ns: Any = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "gtc-stale", "labels": dict(SELECTOR)},
    }
    unlabeled: Any = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x", "namespace": "gtc-local", "labels": {}},
    }
    elsewhere: Any = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "y", "namespace": "gtc-other", "labels": dict(SELECTOR)},
    }
    live = [o for o in other_env if naming.WORKER_PREFIX in o["metadata"]["name"]]
    todo = plan.plan(rendered(m2), [*live, stray_ns, unlabeled, elsewhere], selector=SELECTOR)
    assert todo.prune == ()


def test_live_objects_are_indexed_for_actions(m2: Environment) -> None:
    live = copy.deepcopy(rendered(m2))
    for i, obj in enumerate(live):
        obj["metadata"]["resourceVersion"] = str(i)
    todo = plan.plan(rendered(m2), live, selector=SELECTOR)
    assert len(todo.live) == 14
    assert todo.live_of(todo.apply[3]) == live[3]


def test_object_owned_by_another_env_is_a_conflict(m2: Environment) -> None:
    live = copy.deepcopy(rendered(m2)[3])
    live["metadata"]["labels"][naming.ENV_LABEL] = "staging"
    with pytest.raises(Conflict) as info:
        plan.plan(rendered(m2), [live], selector=SELECTOR)
    assert str(info.value) == (
        "refusing to apply `gtc-router` in namespace `gtc-local`: it is owned by env `staging` "
        "but this apply belongs to env `local`"
    )


def test_apply_order_is_rank_then_render_order(m2: Environment) -> None:
    objs = rendered(m2)
    shuffled = [objs[0], objs[5], objs[3], objs[1], objs[2], *objs[6:], objs[4]]
    todo = plan.plan(shuffled, [], selector=SELECTOR)
    kinds = [o["kind"] for o in todo.apply]
    assert kinds[:3] == ["Namespace", "ConfigMap", "ConfigMap"]
    assert [plan.RANK[k] for k in kinds] == sorted(plan.RANK[k] for k in kinds)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda objs: objs.pop(0), "must start with their Namespace"),
        (
            lambda objs: objs[1]["metadata"].update(namespace="elsewhere"),
            "not the rendered namespace",
        ),
        (lambda objs: objs.append(copy.deepcopy(objs[2])), "appears twice"),
        (lambda objs: objs[1].update(kind="CronJob"), "unsupported kind `CronJob`"),
        (lambda objs: objs[3].update(apiVersion="apps/v1beta1"), "must be apps/v1"),
    ],
)
def test_argument_errors_are_value_errors(m2: Environment, mutate: Any, message: str) -> None:
    objs: Any = rendered(m2)
    mutate(objs)
    with pytest.raises(ValueError, match=message):
        plan.plan(objs, [], selector=SELECTOR)


def test_selector_must_name_manager_and_env(m2: Environment) -> None:
    with pytest.raises(ValueError, match="prune selector"):
        plan.plan(rendered(m2), [], selector={naming.ENV_LABEL: "local"})


def test_plan_is_frozen(m2: Environment) -> None:
    todo = plan.plan(rendered(m2), [], selector=SELECTOR)
    with pytest.raises(AttributeError):
        todo.prune = ()  # type: ignore[misc]
