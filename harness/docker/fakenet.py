"""The tunnel scenario's fake internet on the docker track (harness.fakenet.FakeInternet).

- A TEST image, `greentic-runtime-fakes:<hash>`: the runtime image with the fake cloudflared
  at /usr/local/bin/cloudflared (where the rendered worker args point) and the fake Telegram
  script, tagged by a hash of the runtime image id and both scripts. The deployer's
  `runtime_image` answer names it, so the rendered pods run it unchanged.
- The fake Telegram Bot API as a pod of the env's namespace (`gtc-fake-telegram:8090`, a
  Service alias on the pod network). It knows the bot tokens by sha256 only, so no object,
  state file or artifact holds one; the harness reaches its control plane through the pod's
  published loopback port (`PodBotApi`).
- A PodPreset (harness.docker.presets) giving the worker pods what the product cannot render:
  `GREENTIC_TELEGRAM_API_BASE` (the fake), `GREENTIC_TUNNEL_READY_TIMEOUT=0` (resolve no
  trycloudflare host), and for the fake cloudflared its edge directory (the pod's /tmp) and
  an edge facing the pod network (0.0.0.0), where the fake Bot API delivers Updates.
- `edge()`: reads the edge record from the worker pod and routes its tunnel host to
  `<worker Service>:<edge port>` in the fake Bot API. Traffic stays on the docker network.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from greentic.deployer.k8s import naming
from harness import k8s_fixtures, waits
from harness.docker import imagebuild
from harness.docker.images import HASH_LABEL, HASH_LEN, Images
from harness.docker.pods import Pods
from harness.docker.presets import PodPreset
from harness.docker.worker import DockerWorker
from harness.errors import HarnessError
from harness.fakes import cloudflared, edges, telegram
from harness.fakes.bot_api import BotApiControl
from harness.rendered import deployer_answers
from harness.tracks import PodWorker

REPO = "greentic-runtime-fakes"
RECIPE_VERSION = "1"
POD_PYTHON = "/opt/greentic/bin/python3"  # the runtime image's venv python (every base)
CLOUDFLARED = "/usr/local/bin/cloudflared"  # what the rendered worker args name
FAKES_DIR = "/opt/gtc-fakes"
DOCKERFILE = f"""ARG RUNTIME
FROM ${{RUNTIME}}
COPY cloudflared {CLOUDFLARED}
COPY telegram.py {FAKES_DIR}/telegram.py
"""
TELEGRAM = "gtc-fake-telegram"
TELEGRAM_PORT = 8090
EDGE_DIR = "/tmp/gtc-fake-edges"  # the worker pod's /tmp emptyDir
READY_S = 60.0
API_BASE_ENV = "GREENTIC_TELEGRAM_API_BASE"
READY_TIMEOUT_ENV = "GREENTIC_TUNNEL_READY_TIMEOUT"


class FakeNetError(HarnessError):
    """Raised when the docker track's fake internet cannot be set up or read."""


class FakeNetHost(Protocol):
    """What the fakes need of the docker backend (a protocol: no import of the track)."""

    namespace: str
    deployer_extra: dict[str, Any]

    @property
    def pods(self) -> Pods: ...

    @property
    def images(self) -> Images: ...

    def apply_fixture(self, objects: Sequence[Mapping[str, Any]]) -> None: ...


# -- the test image ----------------------------------------------------------------------------


def fakes_image(runtime: str) -> str:
    """`greentic-runtime-fakes:<hash>` FROM `runtime` plus both fakes, built when missing."""
    scripts = {
        "cloudflared": Path(cloudflared.__file__).read_bytes(),
        "telegram.py": Path(telegram.__file__).read_bytes(),
    }
    with imagebuild.session() as client:
        digest = imagebuild.digest(
            imagebuild.image_id(client, runtime).encode(),
            *(name.encode() + b"\0" + data for name, data in sorted(scripts.items())),
            DOCKERFILE.encode(),
            POD_PYTHON.encode(),
            RECIPE_VERSION.encode(),
        )
        tag = f"{REPO}:{digest[:HASH_LEN]}"
        if imagebuild.exists(client, tag):
            return tag
        with tempfile.TemporaryDirectory(prefix="gtc-fakes-ctx-") as tmp:
            ctx = Path(tmp)
            (ctx / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
            edges.install_cloudflared(ctx, python=POD_PYTHON)  # ctx/cloudflared, 0755
            (ctx / "telegram.py").write_bytes(scripts["telegram.py"])
            (ctx / "telegram.py").chmod(0o644)
            imagebuild.build(
                client,
                ctx,
                tag,
                dockerfile=ctx / "Dockerfile",
                buildargs={"RUNTIME": runtime},
                labels={HASH_LABEL: digest},
            )
        imagebuild.prune_older(client, REPO, keep=tag)
    return tag


# -- the fake Bot API as a pod -----------------------------------------------------------------


def telegram_objects(namespace: str, image: str, tokens: Mapping[str, str]) -> list[Any]:
    """Deployment + Service `gtc-fake-telegram:8090` (not managed by greentic: the env's
    prune leaves them alone); `tokens` (label → token) reach it as sha256 digests."""
    labels = k8s_fixtures.labels(TELEGRAM)
    meta = {"namespace": namespace, "labels": labels}
    hashes = {label: telegram.token_sha256(token) for label, token in tokens.items()}
    container = {
        "name": "bot-api",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": [POD_PYTHON, f"{FAKES_DIR}/telegram.py", "--host", "0.0.0.0"],
        "args": ["--port", str(TELEGRAM_PORT)],
        "env": [{"name": telegram.TOKEN_HASHES_ENV, "value": json.dumps(hashes)}],
        "ports": [{"name": "http", "containerPort": TELEGRAM_PORT}],
        "readinessProbe": {"tcpSocket": {"port": TELEGRAM_PORT}, "periodSeconds": 1},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    pod_security = {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": TELEGRAM, **meta},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"securityContext": pod_security, "containers": [container]},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": TELEGRAM, **meta},
            "spec": {
                "selector": labels,
                "ports": [{"name": "http", "port": TELEGRAM_PORT, "targetPort": TELEGRAM_PORT}],
            },
        },
    ]


@dataclass
class PodBotApi(BotApiControl):
    """The fake Bot API pod's control plane, through its published loopback port."""

    pods: Pods
    namespace: str

    @property
    def control_base(self) -> str:
        pod = self.pods.pod(TELEGRAM, namespace=self.namespace)
        return f"http://127.0.0.1:{pod.host_port(TELEGRAM_PORT)}"

    def logs(self) -> str:
        return self.pods.pod(TELEGRAM, namespace=self.namespace).logs()


def worker_preset(namespace: str) -> PodPreset:
    """The env vars the worker pods need to face the fake internet (none is a secret)."""
    return PodPreset(
        name="tunnel-fake-internet",
        selector={naming.MANAGED_BY: naming.MANAGER, naming.COMPONENT: "worker"},
        env={
            API_BASE_ENV: f"http://{TELEGRAM}:{TELEGRAM_PORT}",
            READY_TIMEOUT_ENV: "0",
            cloudflared.EDGE_DIR_ENV: EDGE_DIR,
            cloudflared.EDGE_BIND_ENV: "0.0.0.0",
        },
    )


# -- the handle the scenario gets --------------------------------------------------------------


@dataclass
class DockerFakeInternet:
    """The docker track's `harness.fakenet.FakeInternet`."""

    host: FakeNetHost
    image: str
    bot_api: PodBotApi

    @property
    def api(self) -> BotApiControl:
        return self.bot_api

    @property
    def api_base(self) -> str:
        return f"http://{TELEGRAM}:{TELEGRAM_PORT}"

    def deployer_answers(self, insecure: Sequence[str]) -> dict[str, Any]:
        return {**deployer_answers(self.host.images.runtime, insecure), **self.host.deployer_extra}

    def edge(self, worker: PodWorker, url: str, *, deadline_s: float) -> edges.Edge:
        if not isinstance(worker, DockerWorker):
            raise FakeNetError(f"{type(worker).__name__} is not a docker worker pod")
        host = urlsplit(url).hostname or ""
        if not host or "/" in host:
            raise FakeNetError(f"{url!r} names no tunnel host")
        path = f"{EDGE_DIR}/{host}.json"

        def recorded() -> edges.Edge | None:
            raw = worker.pod.read_file(path)
            return edges.edge_of(json.loads(raw)) if raw else None

        edge = waits.Poll(
            what=f"the fake cloudflared's edge record {path} in pod {worker.pod.name}",
            attempt=recorded,
            timing=waits.Timing(timeout=deadline_s),
            watch=worker,
            hint="does the worker pod run the fakes image with the tunnel preset?",
        ).run()
        address = worker.pod.plan.aliases[0] if worker.pod.plan.aliases else worker.deployment
        self.bot_api.route(host, address, edge.port)
        return edge


def install(host: FakeNetHost, *, tokens: Mapping[str, str]) -> DockerFakeInternet:
    """Build the fakes image, run the fake Bot API pod, preset the worker pods and bind the
    deployer answers to the fakes image with `tunnel: cloudflared`; before any reconcile."""
    image = fakes_image(host.images.runtime)
    host.apply_fixture(telegram_objects(host.namespace, image, tokens))
    host.pods.pod(TELEGRAM, namespace=host.namespace).wait_ready(READY_S)
    preset = worker_preset(host.namespace)
    host.pods.presets[:] = [p for p in host.pods.presets if p.name != preset.name] + [preset]
    host.deployer_extra.update({"runtime_image": image, "tunnel": "cloudflared"})
    return DockerFakeInternet(host, image, PodBotApi(host.pods, host.namespace))
