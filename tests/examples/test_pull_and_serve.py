"""Example: author an env with the real `gtc`, serve a fixture bundle, boot a worker.

Only the harness plugin's fixtures; runs on the track you pick:
`pytest tests/examples` (host), `pytest tests/examples --track docker` (pods on Docker).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from harness.op import Gtc
from harness.testing import BundleServer
from harness.tracks import RunningWorker


def answers(directory: Path, name: str, payload: Mapping[str, object]) -> Path:
    path = directory / f"{name}.json"
    path.write_text(json.dumps(payload))
    return path


def test_a_worker_pulls_the_bundle_and_replies(
    gtc: Gtc,
    fixture_bundle: Callable[[str], Path],
    distributor: BundleServer,
    worker: Callable[..., RunningWorker],
    tmp_path: Path,
) -> None:
    bundle = fixture_bundle("webchat-bot")
    uri = distributor.publish(bundle)  # the bundle_source_uri as a worker on this track sees it

    gtc.op("env", "create", "local", "--name", "local")
    gtc.op("trust-root", "bootstrap", "local")
    route = {"environment_id": "local", "bundle_id": "webchat-bot",
             "route_binding": {"path_prefixes": ["/"]}}  # fmt: skip
    deployment = gtc.op("bundles", "add", answers=answers(tmp_path, "add", route))["deployment_id"]
    staged = gtc.op("revisions", "stage", "environment_id=local", f"deployment_id={deployment}",
                    f"bundle_path={bundle}", f"bundle_source_uri={uri}")  # fmt: skip
    revision = staged["revision_id"]
    gtc.op("revisions", "warm", "environment_id=local", f"revision_id={revision}")
    split = {"environment_id": "local", "deployment_id": deployment,
             "entries": [{"revision_id": revision, "weight_bps": 10_000}]}  # fmt: skip
    gtc.op("traffic", "set", answers=answers(tmp_path, "traffic", split))

    running = worker("local")  # boots from the authored store; stopped after the test
    running.wait_banner(r"serving 1 revision\(s\) for env `local`", 120)
    reply = httpx.post(running.base_url + "/", json={"text": "hi"}, timeout=10, trust_env=False)
    assert reply.status_code == 200, reply.text
    assert "You said: hi" in reply.text
    assert distributor.hits(bundle.name) >= 1  # the worker really pulled it from there
