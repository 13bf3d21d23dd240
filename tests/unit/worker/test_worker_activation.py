"""Activation: runtime-config + packs → active table; refusals of stale configs; entry flows."""

from __future__ import annotations

import pytest

from greentic.errors import SpecError
from greentic.flow import engine
from greentic.spec.runtime_config import RuntimeConfig, project
from greentic.worker import activation

from .envs import ECHO_FLOW, EMPTY_FLOW, EnvBuilder, FakePack


def two_deployments() -> tuple[EnvBuilder, str, str, str, str, str]:
    b = EnvBuilder()
    bot = b.deployment("bot", prefixes=("/bot/",), hosts=(" Bot.Example.com ", ""), tenant="acme")
    api = b.deployment("api", prefixes=())
    r1 = b.revision(bot, 9000)
    r2 = b.revision(bot, 1000)
    r3 = b.revision(api, 10000)
    return b, bot, api, r1, r2, r3


def test_activate_builds_routes_and_counts() -> None:
    b, bot, api, r1, r2, r3 = two_deployments()
    env = b.build()
    packs = {r: [FakePack.of("p", main=ECHO_FLOW)] for r in (r1, r2, r3)}
    active = activation.activate(env, project(env), packs)
    assert (active.bundles_active, active.deployments_routed, active.revisions_active) == (2, 2, 3)
    bot_route = active.deployment(bot).route
    assert bot_route.prefixes == ("/bot",)
    assert bot_route.hosts == ("bot.example.com",)
    assert bot_route.tenant == "acme"
    assert active.deployment(api).route.prefixes == ("/",)
    assert active.deployment(bot).weights == ((r1, 9000), (r2, 1000))
    assert [d.route.deployment_id for d in active.deployments] == [bot, api]


def test_bundles_active_counts_active_deployments_routed_or_not() -> None:
    """Two deployments of one bundle plus one unrouted deployment: upstream's route table
    counts every active deployment (3), the dispatcher only the routed ones (2)."""
    b = EnvBuilder()
    first = b.deployment("bot", prefixes=("/a/",))
    second = b.deployment("bot", prefixes=("/b/",))
    b.deployment("idle", prefixes=("/c/",))
    r1 = b.revision(first, 10000)
    r2 = b.revision(second, 10000)
    env = b.build()
    packs = {r: [FakePack.of("p", main=ECHO_FLOW)] for r in (r1, r2)}
    active = activation.activate(env, project(env), packs)
    assert (active.bundles_active, active.deployments_routed, active.revisions_active) == (3, 2, 2)


def test_zero_weight_blocks_are_not_activated_or_loaded() -> None:
    b = EnvBuilder()
    dep = b.deployment("bot")
    live = b.revision(dep, 10000)
    idle = b.revision(dep, 0)
    env = b.build()
    rc = project(env)
    assert [blk.revision_id for blk in activation.routed_blocks(rc)] == [live]
    active = activation.activate(env, rc, {live: [FakePack.of("p", main=ECHO_FLOW)]})
    assert active.deployment(dep).weights == ((live, 10000),)
    assert idle not in {r.revision_id for d in active.deployments for r in d.revisions}


def test_empty_runtime_config_is_probes_only() -> None:
    env = EnvBuilder().build()
    for rc in (None, RuntimeConfig(env_id="local")):
        active = activation.activate(env, rc, {})
        assert active.revisions_active == 0
        assert active.routes == ()


def test_revision_runs_its_entry_flow() -> None:
    b = EnvBuilder()
    rev = b.revision(b.deployment("bot"))
    env = b.build()
    active = activation.activate(env, project(env), {rev: [FakePack.of("p", main=ECHO_FLOW)]})
    revision = active.deployments[0].revisions[0]
    out = revision.run({"input": {"text": "yo"}}, state={})
    assert out.output == [{"text": "echo: yo"}]


def test_empty_flow_activates_and_fails_when_run() -> None:
    b = EnvBuilder()
    rev = b.revision(b.deployment("perf-smoke"))
    env = b.build()
    active = activation.activate(env, project(env), {rev: [FakePack.of("p", main=EMPTY_FLOW)]})
    with pytest.raises(engine.FlowFailed, match=r"^flow main has no start node$"):
        active.deployments[0].revisions[0].run({}, state={})


def test_stale_runtime_config_is_refused() -> None:
    b = EnvBuilder()
    dep = b.deployment("bot", status="paused")
    rev = b.revision(dep)
    env = b.build()
    packs = {rev: [FakePack.of("p", main=ECHO_FLOW)]}
    with pytest.raises(SpecError, match="whose status is paused, not active"):
        activation.activate(env, project(env), packs)


def test_unknown_deployment_and_bundle_mismatch_are_refused() -> None:
    b = EnvBuilder()
    rev = b.revision(b.deployment("bot"))
    env = b.build()
    rc = project(env)
    packs = {rev: [FakePack.of("p", main=ECHO_FLOW)]}
    other = rc.model_copy(deep=True)
    other.revisions[0].bundle_id = "other"
    with pytest.raises(SpecError, match=r"pins bundle `other`.*bound to bundle `bot`"):
        activation.activate(env, other, packs)
    ghost = rc.model_copy(deep=True)
    ghost.revisions[0].deployment_id = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    with pytest.raises(SpecError, match="not present in environment `local`"):
        activation.activate(env, ghost, packs)


def test_revision_without_packs_is_refused() -> None:
    b = EnvBuilder()
    rev = b.revision(b.deployment("bot"))
    env = b.build()
    with pytest.raises(SpecError, match=f"revision `{rev}` resolved to no pinned packs"):
        activation.activate(env, project(env), {rev: []})


def test_broken_flow_fails_activation_naming_it() -> None:
    b = EnvBuilder()
    rev = b.revision(b.deployment("bot"))
    env = b.build()
    bad = FakePack.of("p", main="id: main\nnodes:\n  a: {routing: out}\n")
    with pytest.raises(SpecError, match=f"revision `{rev}` pack `p` flow `main`"):
        activation.activate(env, project(env), {rev: [bad]})


def test_flow_routing_to_a_missing_node_names_it_once_with_the_fix() -> None:
    b = EnvBuilder()
    rev = b.revision(b.deployment("bot"))
    env = b.build()
    bad = FakePack.of("p", main="id: main\nnodes:\n  a: {emit.log: 1, routing: nowhere}\n")
    with pytest.raises(SpecError) as err:
        activation.activate(env, project(env), {rev: [bad]})
    assert str(err.value) == (
        f"revision `{rev}` pack `p` flow `main`: node `a` routes to `nowhere`, which is not a node"
    )
    assert err.value.hint is not None
    assert "gtc bundle build" in err.value.hint


def test_entry_flow_choice() -> None:
    msg = {"flows": [{"id": "a", "kind": "job"}, {"id": "b", "kind": "messaging"}]}
    assert activation.entry_flow_id([FakePack("p", {"a": "", "b": ""}, msg)]) == "b"
    assert activation.entry_flow_id([FakePack("p", {"a": "", "default": ""}, {})]) == "default"
    jobs = {"flows": [{"id": "x", "kind": "job"}, {"id": "y", "kind": "job"}]}
    assert activation.entry_flow_id([FakePack("p", {"x": "", "y": ""}, jobs)]) == "x"
    first_with_flows = [FakePack("empty", {}, {}), FakePack("q", {"z": ""}, {})]
    assert activation.entry_flow_id(first_with_flows) == "z"
    assert activation.entry_flow_id([FakePack("empty", {}, {})]) is None


def test_revision_with_no_flows_fails_when_run() -> None:
    b = EnvBuilder()
    rev = b.revision(b.deployment("bot"))
    env = b.build()
    active = activation.activate(env, project(env), {rev: [FakePack("p", {}, {})]})
    with pytest.raises(engine.FlowFailed, match="has no flow to run"):
        active.deployments[0].revisions[0].run({}, state={})


def test_messaging_endpoints_are_projected_with_their_linked_bundles() -> None:
    from greentic.spec.environment import MessagingEndpoint

    b = EnvBuilder()
    b.revision(b.deployment("bot"))
    env = b.build()
    env.messaging_endpoints.append(
        MessagingEndpoint(
            env_id="local",
            endpoint_id="ep-1",
            provider_type="messaging.telegram.bot",
            provider_id="telegram",
            display_name="tg",
            linked_bundles=["bot"],
        )
    )
    active = activation.activate(
        env, project(env), {env.revisions[0].revision_id: [FakePack.of("p", main=ECHO_FLOW)]}
    )
    assert active.endpoints == {"ep-1": frozenset({"bot"})}
