"""Pods on Docker for real: rendered workers run locked down yet pull, materialize and serve;
a secret change rolls only the worker; and the pod mechanics (init order and failure, emptyDir
ownership, ConfigMap/Secret files, Service aliases, restarts with back-off, prune) on busybox.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from greentic.deployer.k8s import naming, plan
from harness import waits
from harness.artifacts import Artifacts
from harness.context import ScenarioContext, new_run_id
from harness.docker import pods
from harness.docker.track import DockerBackend, local_images
from harness.docker.worker import CrashLoopNotSeen, DockerWorker
from harness.op import Gtc, operator_env
from harness.tracks import POD_CAPABILITIES, Capability, PodBackend, PodWorker
from scenarios import _common as common

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1200)]  # a cold image build takes minutes

ENV_ID = "local"
FIXTURE = "webchat-bot.gtbundle"
SECRET_PATH = "tenant-default/_/test/api_key"
SECRET_VAR = "GTC_TEST_SECRET"
BANNER = r"serving 1 revision\(s\) for env `local`"
UID = 65532


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[ScenarioContext]:
    """A scenario context of its own; afterwards nothing of the run may be left in Docker."""
    run_id = new_run_id("test-pods", "docker")
    artifacts = Artifacts(tmp_path / run_id)
    work = artifacts.dir / "work"
    (work / "store").mkdir(parents=True)
    with ExitStack() as stack:
        yield ScenarioContext(
            name="test-pods",
            track="docker",
            variant=None,
            run_id=run_id,
            artifacts=artifacts,
            work_dir=work,
            store_root=work / "store",
            keep=False,
            stack=stack,
        )
    assert pods.reap(run_id) == []  # the context manager removed everything already


def put_secret(ctx: ScenarioContext, value: str) -> None:
    cli = Gtc(ctx.store_root, env=operator_env(ctx.work_dir, {SECRET_VAR: value}))
    cli.op("secrets", "put", SECRET_PATH, "--env", ENV_ID, "--from-env", SECRET_VAR)


def process_uid(info: dict[str, Any]) -> int:
    """The real uid of the container's PID 1, read from /proc on the engine's host."""
    status = Path(f"/proc/{info['State']['Pid']}/status").read_text()
    line = next(ln for ln in status.splitlines() if ln.startswith("Uid:"))
    return int(line.split()[1])


def test_locked_down_worker_pulls_and_serves_and_a_secret_change_rolls_only_it(
    ctx: ScenarioContext,
) -> None:
    backend = DockerBackend()
    cli = common.gtc(ctx)
    distributor = backend.serve_bundles(ctx, ctx.work_dir / "distributor")
    distributor.publish(common.fixture(ctx, FIXTURE))
    common.create_env(ctx, cli, ENV_ID)
    cli.op(
        "env-packs", "add", f"environment_id={ENV_ID}", "slot=secrets",
        "kind=greentic.secrets.dev-store@0.1.0", "pack_ref=builtin",
    )  # fmt: skip
    put_secret(ctx, "first value")
    deployment_id = common.add_bundle(ctx, cli, ENV_ID, "webchat-bot")
    authored = common.stage_pullable(
        ctx,
        cli,
        env_id=ENV_ID,
        deployment_id=deployment_id,
        bundle_path=common.fixture(ctx, FIXTURE),
        source_uri=backend.bundle_uri_for(distributor, FIXTURE),
    )

    worker = backend.start(ctx, ENV_ID)

    # locked down as rendered: uid 65532, read-only root, no capabilities, no privilege gain
    info = worker.inspect()
    assert info["Config"]["User"] == f"{UID}:{UID}"
    assert info["HostConfig"]["ReadonlyRootfs"] is True
    assert info["HostConfig"]["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in info["HostConfig"]["SecurityOpt"]
    assert info["HostConfig"]["NanoCpus"] == 1_000_000_000
    assert info["HostConfig"]["Memory"] == 2**30
    assert process_uid(info) == UID
    # … and still pulls (from the in-network httpd), materializes and serves
    worker.wait_banner(BANNER, 60)
    assert distributor.hits(FIXTURE) >= 1
    lock = worker.env_file(f"revisions/{authored.revision_id}/pack-list.lock")
    assert lock is not None and b"webchat-bot" in lock
    assert worker.env_file(".greentic/dev/.dev.secrets.env") is not None  # staged by init
    with httpx.Client(timeout=5, trust_env=False) as client:
        status = client.get(f"{worker.base_url}/status").json()
        reply = client.post(f"{worker.base_url}/", json={"text": "hi"})
    assert (status["bundles_active"], status["deployments_routed"]) == (1, 1)
    assert status["revisions_active"] == 1
    assert reply.status_code == 200
    assert reply.json()[0]["payload"]["text"] == "Hello from webchat-bot! You said: hi"

    # a secret change: render + sync replaces the worker (new dev-store-hash), nothing else
    before = {p.deployment: (p.name, p.container_id()) for p in backend.pods.pods()}
    old_hash = worker.pod.plan.annotations[naming.DEV_STORE_HASH]
    put_secret(ctx, "second value")
    result = backend.reconcile(ctx, ENV_ID)

    assert result["applied"] == 15  # 12 env-level + the dev-store Secret + the worker pair
    assert result["pruned"] == 0
    changed = [(o["kind"], o["name"]) for o in result["objects"] if o["action"] != "unchanged"]
    assert changed == [("Secret", "gtc-dev-secrets"), ("Deployment", worker.deployment)]
    assert result["pods"]["replaced"] == [worker.deployment]
    assert result["pods"]["started"] == [] and result["pods"]["removed"] == []
    assert worker.pod.plan.annotations[naming.DEV_STORE_HASH] != old_hash
    after = {p.deployment: (p.name, p.container_id()) for p in backend.pods.pods()}
    assert after[worker.deployment] != before[worker.deployment]
    for deployment in set(before) - {worker.deployment}:
        assert after[deployment] == before[deployment], f"{deployment} was restarted"
        assert backend.pods.pod(deployment).restarts() == 0
    worker.pod.wait_ready(60)
    worker.wait_banner(BANNER, 60)
    secrets_file = worker.env_file(".greentic/dev/.dev.secrets.env")
    assert secrets_file is not None and b"second value" not in secrets_file  # sealed


# -- the pod mechanics, on busybox alone -------------------------------------------------------

NS = "gtc-mechanics"


def meta(name: str, **labels: str) -> dict[str, Any]:
    return {"name": name, "namespace": NS, "labels": labels or {"app": name}}


def deployment(name: str, spec: dict[str, Any], **annotations: str) -> dict[str, Any]:
    template: dict[str, Any] = {"metadata": {"labels": {"app": name}}, "spec": spec}
    if annotations:
        template["metadata"]["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name),
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": template},
    }


def container(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": "busybox:1.36.1",
        "command": ["sh", "-c", script],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        **extra,
    }


POD_SECURITY = {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID}


def mechanics(*, with_failures: bool = True, greeting: str = "hello") -> list[dict[str, Any]]:
    web = deployment(
        "web",
        {
            "securityContext": POD_SECURITY,
            "initContainers": [
                container(
                    "first",
                    "set -eu; id -u > /data/uid; echo $(GREETING) > /data/index.html",
                    env=[
                        {"name": "GREETING", "value": "$(PREFIX)-page"},
                        {"name": "X", "value": "1"},
                    ],
                    volumeMounts=[{"name": "data", "mountPath": "/data"}],
                ),
                container(
                    "second",  # runs after `first`: it reads what `first` wrote
                    "set -eu; cat /cfg/g.txt /data/index.html > /data/both.txt; "
                    "ls -ln /cfg/g.txt > /data/mode.txt; cat /sec/token > /data/token.txt",
                    volumeMounts=[
                        {"name": "data", "mountPath": "/data"},
                        {"name": "cfg", "mountPath": "/cfg", "readOnly": True},
                        {"name": "sec", "mountPath": "/sec", "readOnly": True},
                    ],
                ),
            ],
            "containers": [
                container(
                    "httpd",
                    "exec httpd -f -p 8080 -h /data",
                    ports=[{"name": "http", "containerPort": 8080}],
                    readinessProbe={"httpGet": {"path": "/index.html", "port": "http"}},
                    volumeMounts=[{"name": "data", "mountPath": "/data", "readOnly": True}],
                )
            ],
            "volumes": [
                {"name": "data", "emptyDir": {}},
                {
                    "name": "cfg",
                    "configMap": {
                        "name": "cfg",
                        "items": [{"key": "greeting", "path": "g.txt"}],
                        "defaultMode": 0o440,
                    },
                },
                {"name": "sec", "secret": {"secretName": "sec"}},
            ],
        },
    )
    # the web container's env is not the init's: PREFIX comes from the pod's first init only
    web["spec"]["template"]["spec"]["initContainers"][0]["env"].insert(
        0, {"name": "PREFIX", "value": "web"}
    )
    client = deployment(
        "client",
        {
            "securityContext": POD_SECURITY,
            "containers": [
                container(
                    "wget",
                    "exec sleep 3600",
                    readinessProbe={
                        "exec": {
                            "command": [
                                "sh",
                                "-c",
                                f"wget -q -O- http://web.{NS}.svc.cluster.local:8080/index.html"
                                " && wget -q -O- http://web:8080/index.html",
                            ]
                        }
                    },
                )
            ],
        },
    )
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("cfg"),
            "data": {"greeting": greeting},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta("sec"),
            "data": {"token": base64.b64encode(b"s3cret").decode()},
        },
        web,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("web"),
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080, "targetPort": 8080}]},
        },
        client,
    ]
    if with_failures:
        objects.append(
            deployment(
                "crasher",
                {"containers": [container("main", "echo boom-$(date +%s%N) >&2; exit 3")]},
            )
        )
        objects.append(
            deployment(
                "badinit",
                {
                    "initContainers": [container("check", "echo config is wrong; exit 4")],
                    "containers": [container("main", "exec sleep 3600")],
                },
            )
        )
    return objects


@pytest.fixture
def pod_set(tmp_path: Path) -> Iterator[pods.Pods]:
    local_images()
    run_id = new_run_id("test-pods", "mechanics")
    backoff = pods.Backoff(initial_s=0.2, cap_s=1.0)
    with pods.Pods(
        run_id, work_dir=tmp_path / "pods", logs_dir=tmp_path / "logs", backoff=backoff
    ) as pod_set:
        yield pod_set
    assert pods.reap(run_id) == []


def test_pod_mechanics_on_busybox(pod_set: pods.Pods) -> None:
    result = pod_set.sync(mechanics())
    assert sorted(result.started) == ["badinit", "client", "crasher", "web"]

    web, client = pod_set.pod("web"), pod_set.pod("client")
    web.wait_ready(30)
    client.wait_ready(30)  # its exec probe fetched the page through both Service aliases
    read = web.read_file
    assert read("/data/uid") == f"{UID}\n".encode()  # init ran as 65532 in a 65532 emptyDir
    assert read("/data/index.html") == b"web-page\n"  # $(PREFIX) expanded from the env
    assert read("/data/both.txt") == b"helloweb-page\n"  # `second` ran after `first`
    assert read("/data/mode.txt", "httpd") is not None
    assert (read("/data/mode.txt") or b"").startswith(b"-r--r-----")  # defaultMode 0440
    assert read("/data/token.txt") == b"s3cret"
    with httpx.Client(timeout=5, trust_env=False) as http:
        assert http.get(f"{web.url(8080)}/index.html").text == "web-page\n"

    crasher = pod_set.pod("crasher")
    waits.Poll(
        what="two restarts of the crasher",
        attempt=lambda: True if crasher.restarts() >= 2 else None,
        timing=waits.Timing(timeout=30, interval=0.1),
    ).run()
    assert crasher.last_exit_code() == 3
    assert crasher.stderr().count("boom-") >= 2  # earlier runs' logs are kept

    badinit = pod_set.pod("badinit")
    with pytest.raises(pods.PodNotReady, match="init container check exited 4: config is wrong"):
        badinit.wait_ready(10)
    assert badinit.container_id() is None  # the main container never started

    # a ConfigMap change reaches the running pod's files; nothing restarts (no template change)
    again = pod_set.sync(mechanics(with_failures=False, greeting="hi"))
    assert sorted(again.removed) == ["badinit", "crasher"]
    assert again.started == () and again.replaced == ()
    assert pod_set.pod("web") is web
    assert (web.dir / "volumes" / "cfg" / "g.txt").read_bytes() == b"hi"
    labels = {"label": [f"{pods.RUN_LABEL}={pod_set.run_id}"]}
    names = {c["Names"][0] for c in pod_set.api.containers(all=True, filters=labels)}
    assert not any(".crasher-" in n or ".badinit-" in n for n in names), names
    status = web.status()
    assert json.loads(json.dumps(status))["containers"][0]["restarts"] == 0


# -- the docker track reconciles through the product's plan --------------------------------------


def author_warmed(ctx: ScenarioContext) -> str:
    """Env `local` with one bundle and one warmed, unrouted revision (the prune scenario's
    env: 12 env-level objects + the worker pair); the revision id."""
    cli = common.gtc(ctx)
    common.create_env(ctx, cli, ENV_ID)
    deployment_id = common.add_bundle(ctx, cli, ENV_ID, "webchat-bot")
    staged = cli.op(
        "revisions", "stage", f"environment_id={ENV_ID}", f"deployment_id={deployment_id}",
        f"bundle_path={common.fixture(ctx, FIXTURE)}",
    )  # fmt: skip
    revision_id = common.field(staged, "revision_id")
    cli.op("revisions", "warm", f"environment_id={ENV_ID}", f"revision_id={revision_id}")
    return revision_id


def pod_ids(backend: DockerBackend) -> dict[str, tuple[str | None, str | None]]:
    """Deployment → (sandbox id, main container id): a replaced pod or a restarted container
    shows as a new id."""
    return {p.deployment: (p.sandbox_id, p.container_id()) for p in backend.pods.pods()}


def test_a_second_reconcile_changes_nothing_and_restarts_no_container(
    ctx: ScenarioContext,
) -> None:
    backend = DockerBackend()
    author_warmed(ctx)
    first = backend.reconcile(ctx, ENV_ID)
    assert (first["applied"], first["pruned"], first["changed"]) == (14, 0, 14)
    router = backend.pods.pod(naming.ROUTER)
    router.wait_ready(60)
    before, restarts = pod_ids(backend), router.restarts()

    second = backend.reconcile(ctx, ENV_ID)

    assert (second["applied"], second["pruned"], second["changed"]) == (14, 0, 0)
    assert {o["action"] for o in second["objects"]} == {"unchanged"}
    assert second["pods"] == {"started": [], "replaced": [], "removed": []}
    after = pod_ids(backend)
    assert {d: ids[0] for d, ids in after.items()} == {d: ids[0] for d, ids in before.items()}
    assert after[naming.ROUTER] == before[naming.ROUTER]  # the same container, not restarted
    assert router.restarts() == restarts
    reconciles = (ctx.artifacts.dir / "docker-reconcile.jsonl").read_text().splitlines()
    assert [json.loads(line)["changed"] for line in reconciles] == [14, 0]
    assert (ctx.artifacts.dir / "rendered" / "02-local.yaml").is_file()


def test_the_prune_counts_come_from_the_products_plan(
    ctx: ScenarioContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Break `greentic.deployer.k8s.plan.plan` and the docker track's counts break with it:
    they are the product's plan executed on the DockerCluster, not harness bookkeeping."""
    backend = DockerBackend()
    revision_id = author_warmed(ctx)
    worker = naming.worker_name(revision_id)
    real_plan = plan.plan

    def one_less(*args: Any, **kwargs: Any) -> plan.Plan:
        todo = real_plan(*args, **kwargs)
        return dataclasses.replace(todo, apply=todo.apply[:-1])

    monkeypatch.setattr(plan, "plan", one_less)
    short = backend.reconcile(ctx, ENV_ID)
    assert (short["applied"], short["pruned"]) == (13, 0)  # kind-serve's count would fail
    monkeypatch.undo()
    assert backend.reconcile(ctx, ENV_ID)["applied"] == 14
    assert {p.deployment for p in backend.pods.pods()} == {naming.ROUTER, worker}

    common.gtc(ctx).op(
        "revisions", "archive", f"environment_id={ENV_ID}", f"revision_id={revision_id}"
    )

    def no_prune(*args: Any, **kwargs: Any) -> plan.Plan:
        return dataclasses.replace(real_plan(*args, **kwargs), prune=())

    monkeypatch.setattr(plan, "plan", no_prune)
    kept = backend.reconcile(ctx, ENV_ID)
    assert (kept["applied"], kept["pruned"]) == (12, 0)  # the prune scenario's check would fail
    assert backend.pods.pods(deployment=worker)  # nothing pruned: its pod still runs
    monkeypatch.undo()
    pruned = backend.reconcile(ctx, ENV_ID)
    assert (pruned["applied"], pruned["pruned"]) == (12, 2)
    assert pruned["pods"]["removed"] == [worker]
    assert {p.deployment for p in backend.pods.pods()} == {naming.ROUTER}


# -- the worker as a pod: crash loop, previous logs, a port-forward bound to one pod -------------


def web_objects(ns: str, text: str) -> list[dict[str, Any]]:
    """A busybox httpd serving `text` (a new text is a new pod template, so a new pod)."""
    obj = deployment(
        "web",
        {
            "securityContext": POD_SECURITY,
            "initContainers": [
                container(
                    "page",
                    f"echo {text} > /data/index.html",
                    volumeMounts=[{"name": "data", "mountPath": "/data"}],
                )
            ],
            "containers": [
                container(
                    "httpd",
                    "exec httpd -f -p 8080 -h /data",
                    ports=[{"name": "http", "containerPort": 8080}],
                    readinessProbe={"httpGet": {"path": "/index.html", "port": "http"}},
                    volumeMounts=[{"name": "data", "mountPath": "/data", "readOnly": True}],
                )
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
    )
    refusing = container(
        "main",
        "echo boom-$(date +%s%N); exit 3",
        ports=[{"containerPort": 8080}],
        readinessProbe={"tcpSocket": {"port": 8080}},  # a worker's probe: never passes here
    )
    crasher = deployment("crasher", {"containers": [refusing]})
    objects = [obj, crasher]
    for o in objects:
        o["metadata"]["namespace"] = ns
    return objects


def test_the_docker_worker_is_a_pod_worker(ctx: ScenarioContext) -> None:
    backend = DockerBackend()
    backend.bind(ctx)
    backend.pods.backoff = pods.Backoff(initial_s=0.2, cap_s=1.0)
    ns = backend.namespace
    backend.apply_fixture(web_objects(ns, "first"))
    web, crasher = DockerWorker(backend, ENV_ID, "web"), DockerWorker(backend, ENV_ID, "crasher")
    assert isinstance(web, PodWorker) and isinstance(backend, PodBackend)
    assert backend.capabilities == POD_CAPABILITIES | {
        Capability.FAKE_INTERNET,
        Capability.SERVICE_CUT,
    }
    assert {Capability.RECONCILE, Capability.PORT_FORWARD} <= backend.capabilities

    assert crasher.wait_crash_loop(30).startswith("restart loop (")
    assert crasher.restarts() >= 2 and not crasher.ready()
    assert crasher.previous_logs().startswith("boom-")
    web.pod.wait_ready(30)
    with pytest.raises(CrashLoopNotSeen, match="became Ready"):
        web.wait_crash_loop(5)

    with web.port_forward(8080) as url, httpx.Client(timeout=5, trust_env=False) as http:
        assert http.get(f"{url}/index.html").text == "first\n"
        backend.apply_fixture(web_objects(ns, "second"))  # a new template: the pod is replaced
        with pytest.raises(httpx.TransportError):
            http.get(f"{url}/index.html", headers={"Connection": "close"})
    web.pod.wait_ready(30)
    with web.port_forward(8080) as url:
        assert httpx.get(f"{url}/index.html", timeout=5, trust_env=False).text == "second\n"
