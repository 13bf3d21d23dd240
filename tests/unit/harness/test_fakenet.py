"""The docker track's fake internet, without Docker: the fake Bot API knowing tokens by hash
and delivering through a route, the fake cloudflared's edge on the pod network, PodPresets
on pod plans, and the fake Bot API pod's objects (no token in them)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from greentic.deployer.k8s import naming
from harness.docker import fakenet, podspec, presets
from harness.docker.podspec import PodSpecError
from harness.fakes import cloudflared as fake_cloudflared
from harness.fakes import edges
from harness.fakes import telegram as fake
from harness.fakes.origin import RecordingOrigin
from harness.process import RUN_ID_ENV, ManagedProcess

TOKEN = "123456:AAFakeTokenForTests_abcdefghijklmnop"
SECRET = "s3cret-Token_value"
HOST = "amber-basin-cedar-delta.trycloudflare.com"


# -- the fake Bot API: tokens by hash, routes --------------------------------------------------


def test_a_token_known_by_its_sha256_is_answered_under_its_label() -> None:
    state = fake.BotState({}, None, {"demo-bot": hashlib.sha256(TOKEN.encode()).hexdigest()})
    status, doc = state.call(TOKEN, "getMe", {})
    assert status == 200 and doc["result"]["first_name"] == "demo-bot"
    assert state.call("999:wrong", "getMe", {})[0] == 401
    assert [c["bot"] for c in state.calls] == ["demo-bot", fake.fingerprint("999:wrong")]
    assert TOKEN not in json.dumps(state.snapshot())


def test_a_routed_edge_gets_the_update_with_the_tunnel_host_and_the_secret() -> None:
    state = fake.BotState({"demo-bot": TOKEN}, None)
    url = f"https://{HOST}/webhook/telegram"
    assert state.call(TOKEN, "setWebhook", {"url": url, "secret_token": SECRET})[0] == 200
    with RecordingOrigin() as origin:
        assert state.route({"host": HOST, "address": "127.0.0.1", "port": origin.port})[0] == 200
        status, record = state.deliver({"update": {"update_id": 1}})
        assert status == 200 and record["status"] == 200 and record["error"] is None
        [seen] = origin.seen
    assert seen.path == "/webhook/telegram" and seen.headers["Host"] == HOST
    assert seen.headers[fake.SECRET_HEADER] == SECRET
    assert state.snapshot()["routes"] == {HOST: f"127.0.0.1:{origin.port}"}


def test_once_routes_exist_set_webhook_resolves_the_host_first() -> None:
    state = fake.BotState({"demo-bot": TOKEN}, None)
    state.route({"host": HOST, "address": "gtc-worker-x", "port": 4000})
    other = "https://zephyr-bright-calm-deep.trycloudflare.com/webhook/telegram"
    status, doc = state.call(TOKEN, "setWebhook", {"url": other})
    assert status == 400 and doc["description"] == fake.RESOLVE_FAILURE
    assert state.call(TOKEN, "setWebhook", {"url": f"https://{HOST}/webhook/telegram"})[0] == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"host": HOST, "address": "a"}, {"host": HOST, "address": "a", "port": 70000}],
)
def test_a_malformed_route_is_a_400_naming_the_fields(body: dict[str, Any]) -> None:
    status, doc = fake.BotState({}, None).route(body)
    assert status == 400 and ("port" in doc["error"] or "host" in doc["error"])


# -- the fake cloudflared's edge on the pod network --------------------------------------------


def test_the_edge_binds_where_the_env_says_and_records_it(tmp_path: Path) -> None:
    with RecordingOrigin() as origin:
        binary = edges.install_cloudflared(tmp_path / "bin")
        env = {
            fake_cloudflared.EDGE_DIR_ENV: str(tmp_path / "edges"),
            fake_cloudflared.EDGE_BIND_ENV: "0.0.0.0",
            RUN_ID_ENV: "t",
        }
        argv = [str(binary), "tunnel", "--url", f"http://127.0.0.1:{origin.port}"]
        with ManagedProcess(argv, env=env, logs_dir=tmp_path / "logs", name="cf") as proc:
            url = proc.wait_for(edges.QUICK_TUNNEL_URL.pattern, 10, stream="stderr").group(0)
            edge = edges.EdgeRegistry(tmp_path / "edges").wait(url)
            record = json.loads((tmp_path / "edges" / f"{edge.host}.json").read_text())
            assert record["edge_bind"] == "0.0.0.0"
            assert edge.request("GET", "/chat").status_code == 200  # relayed to the origin
    assert origin.seen[0].headers["Host"] == edge.host


# -- PodPresets --------------------------------------------------------------------------------


def deployment(labels: dict[str, str], env: list[dict[str, str]]) -> dict[str, Any]:
    container = {"name": "main", "image": "img", "env": env}
    init = {"name": "stage", "image": "busybox", "command": ["true"]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "gtc-worker-x", "namespace": "gtc-local", "labels": labels},
        "spec": {
            "replicas": 1,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container], "initContainers": [init]},
            },
        },
    }


def plan_of(obj: dict[str, Any]) -> podspec.PodPlan:
    return podspec.pod_plan(obj, podspec.index([obj]))


WORKER = naming.worker_labels("local", revision_id="r1", deployment_id="d1", bundle_id="b")


def test_a_preset_adds_env_to_matching_main_containers_and_replaces_the_pod() -> None:
    plan = plan_of(deployment(WORKER, [{"name": "HOME", "value": "/var/greentic"}]))
    preset = fakenet.worker_preset("gtc-local")
    applied = presets.apply(plan, [preset])
    env = dict(applied.containers[0].env)
    assert env["HOME"] == "/var/greentic"
    assert env[fakenet.API_BASE_ENV] == f"http://{fakenet.TELEGRAM}:{fakenet.TELEGRAM_PORT}"
    assert env[fakenet.READY_TIMEOUT_ENV] == "0"
    assert env[fake_cloudflared.EDGE_BIND_ENV] == "0.0.0.0"
    assert applied.init_containers == plan.init_containers  # staging gets nothing
    assert applied.identity != plan.identity and applied.name != plan.name


def test_a_preset_leaves_other_pods_alone_and_never_overrides_a_rendered_variable() -> None:
    router = plan_of(deployment(naming.common_labels("local", "router"), []))
    assert presets.apply(router, [fakenet.worker_preset("gtc-local")]) == router
    rendered = [{"name": fakenet.READY_TIMEOUT_ENV, "value": "30"}]
    worker = plan_of(deployment(WORKER, rendered))
    with pytest.raises(PodSpecError, match=f"override {fakenet.READY_TIMEOUT_ENV}"):
        presets.apply(worker, [fakenet.worker_preset("gtc-local")])


# -- the fake Bot API pod ----------------------------------------------------------------------


def test_the_fake_bot_api_pod_knows_the_token_only_by_its_hash() -> None:
    objects = fakenet.telegram_objects("gtc-local", "img:1", {"demo-bot": TOKEN})
    assert [o["kind"] for o in objects] == ["Deployment", "Service"]
    assert TOKEN not in json.dumps(objects)
    [container] = objects[0]["spec"]["template"]["spec"]["containers"]
    [env] = container["env"]
    assert env["name"] == fake.TOKEN_HASHES_ENV
    assert json.loads(env["value"]) == {"demo-bot": fake.token_sha256(TOKEN)}
    plan = plan_of_all(objects)
    assert fakenet.TELEGRAM in plan.aliases and plan.ports == (fakenet.TELEGRAM_PORT,)


def plan_of_all(objects: list[Any]) -> podspec.PodPlan:
    [plan] = podspec.pod_plans(podspec.index(objects))
    return plan
