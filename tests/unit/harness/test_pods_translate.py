"""The pure translation of rendered pod specs into Docker run parameters (harness.docker.podspec).

The inputs are the real renderer's objects (SPEC §6.3) and harness.k8s_fixtures' manifests,
so a change on either side that the docker track cannot run shows up here, without Docker.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from greentic.deployer.k8s import naming, render
from greentic.deployer.k8s.answers import K8sAnswers
from greentic.spec.environment import (
    BundleDeployment,
    Environment,
    EnvPackBinding,
    HostConfig,
    Revision,
    RouteBinding,
    TrafficEntry,
    TrafficSplit,
)
from harness import k8s_fixtures
from harness.docker import podspec
from harness.docker.podspec import Backoff, PodSpecError

AT = "2026-01-02T03:04:05.000000Z"
REV = "01J0000000000000000000REV1"
DEP = "01J0000000000000000000DEP1"
IMAGE = "greentic-runtime:0123456789ab"
SECRETS = EnvPackBinding(
    slot="secrets", kind="greentic.secrets.dev-store@0.1.0", pack_ref="builtin"
)


def env(*, secrets: bool = True, revisions: int = 1) -> Environment:
    """env `local` bound to the k8s deployer, one routed revision pulled over HTTP."""
    revs = [
        Revision(
            revision_id=REV[:-1] + str(n),
            env_id="local",
            bundle_id="webchat-bot",
            deployment_id=DEP,
            sequence=n,
            created_at=AT,
            bundle_digest="sha256:" + "ab" * 32,
            bundle_source_uri="http://gtc-bundle-server:8080/webchat-bot.gtbundle",
            pack_list_lock_ref=f"revisions/{REV[:-1]}{n}/pack-list.lock",
            lifecycle="ready",
            staged_at=AT,
            warmed_at=AT,
        )
        for n in range(1, revisions + 1)
    ]
    packs = [
        EnvPackBinding(slot="deployer", kind="greentic.deployer.k8s@1.0.0", pack_ref="builtin")
    ]
    return Environment(
        environment_id="local",
        name="local",
        host_config=HostConfig(env_id="local"),
        packs=[*packs, SECRETS] if secrets else packs,
        bundles=[
            BundleDeployment(
                deployment_id=DEP,
                env_id="local",
                bundle_id="webchat-bot",
                customer_id="local",
                current_revisions=[r.revision_id for r in revs],
                route_binding=RouteBinding(path_prefixes=["/"]),
                created_at=AT,
            )
        ],
        revisions=revs,
        traffic_splits=[
            TrafficSplit(
                env_id="local",
                deployment_id=DEP,
                bundle_id="webchat-bot",
                generation=1,
                entries=[TrafficEntry(revision_id=revs[0].revision_id, weight_bps=10_000)],
                updated_at=AT,
                idempotency_key="k",
            )
        ],
    )


def rendered(dev_store: bytes | None = b"sealed-v1", **kwargs: Any) -> dict[podspec.ObjectKey, Any]:
    answers = K8sAnswers(runtime_image=IMAGE, oci_insecure_registries=("gtc-oci-registry:5000",))
    objects = render.objects(env(**kwargs), answers, dev_store=dev_store)
    return podspec.index(objects)


def plans(objects: dict[podspec.ObjectKey, Any], **kw: Any) -> dict[str, podspec.PodPlan]:
    return {p.name: p for p in podspec.pod_plans(objects, **kw)}


def worker_plan(objects: dict[podspec.ObjectKey, Any] | None = None) -> podspec.PodPlan:
    found = podspec.pod_plans(objects if objects is not None else rendered())
    return next(p for p in found if p.deployment.startswith(naming.WORKER_PREFIX))


def router_plan(objects: dict[podspec.ObjectKey, Any] | None = None) -> podspec.PodPlan:
    found = podspec.pod_plans(objects if objects is not None else rendered())
    return next(p for p in found if p.deployment == naming.ROUTER)


# -- quantities and $(VAR) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "nanos"), [("1", 10**9), ("250m", 250_000_000), ("0.5", 500_000_000), (2, 2 * 10**9)]
)
def test_cpu_quantities(text: str | int, nanos: int) -> None:
    assert podspec.cpu_nanos(text) == nanos


@pytest.mark.parametrize(
    ("text", "size"),
    [("1Gi", 2**30), ("256Mi", 256 * 2**20), ("128M", 128_000_000), ("512", 512), ("1k", 1000)],
)
def test_memory_quantities(text: str, size: int) -> None:
    assert podspec.memory_bytes(text) == size


@pytest.mark.parametrize("bad", ["lots", "1Gb", "1.2.3"])
def test_bad_quantities_name_the_value(bad: str) -> None:
    with pytest.raises(PodSpecError, match=bad.replace(".", r"\.")):
        podspec.memory_bytes(bad)
    with pytest.raises(PodSpecError):
        podspec.cpu_nanos("1Gi")


def test_var_expansion_follows_kubernetes() -> None:
    env = {"A": "x", "B": "y"}
    assert podspec.expand("$(A)-$(B)/$(C)", env) == "x-y/$(C)"
    assert podspec.expand("$$(A) costs $$5", env) == "$(A) costs $5"


# -- the rendered worker and router ----------------------------------------------------------


def test_one_pod_per_deployment_by_default_and_replicas_when_asked() -> None:
    objects = rendered()
    default = podspec.pod_plans(objects)
    assert sorted(p.deployment for p in default) == sorted([naming.ROUTER, naming.worker_name(REV)])
    more = podspec.pod_plans(objects, max_replicas=3)
    routers = [p for p in more if p.deployment == naming.ROUTER]
    assert len(routers) == 2  # router_replicas 2, capped at 3
    assert len({p.name for p in more}) == len(more)


def test_worker_security_resources_and_args_as_rendered() -> None:
    plan = worker_plan()
    (main,) = plan.containers
    assert main.user == "65532:65532"
    assert main.read_only is True
    assert main.cap_drop == ("ALL",)
    assert main.security_opt == ("no-new-privileges",)
    assert main.group_add == ("65532",)  # fsGroup
    assert main.run_as_non_root is True
    assert main.nano_cpus == 10**9 and main.mem_limit == 2**30
    assert main.cpu_shares == 256  # 250m requested
    assert main.image == IMAGE
    assert main.entrypoint is None  # no `command`: the image's ENTRYPOINT greentic-start
    assert main.cmd == ("start", "--env", "local")
    env = dict(main.env)
    assert env["GREENTIC_REVISION_ID"] == REV
    assert env["HOME"] == "/var/greentic"
    assert env["GREENTIC_OCI_INSECURE_REGISTRIES"] == "gtc-oci-registry:5000"
    assert main.readiness == podspec.Probe("http", 8080, "/healthz")
    assert plan.ports == (8080,)
    assert plan.sandbox_user == "65532:65532"
    assert [c.name for c in plan.init_containers] == ["stage-env-store", "stage-dev-secrets"]
    assert all(c.image == "busybox:1.36.1" for c in plan.init_containers)
    assert all(c.entrypoint and c.entrypoint[:2] == ("sh", "-c") for c in plan.init_containers)


def test_worker_aliases_come_from_the_service_that_selects_it() -> None:
    name = naming.worker_name(REV)
    assert worker_plan().aliases == (name, f"{name}.gtc-local.svc.cluster.local")
    assert router_plan().aliases == (
        naming.ROUTER,
        f"{naming.ROUTER}.gtc-local.svc.cluster.local",
    )


def test_volumes_become_tmpfs_volumes_and_read_only_files() -> None:
    objects = rendered()
    plan = worker_plan(objects)
    assert [e.volume for e in plan.empty_dirs] == ["greentic-home", "tmp"]
    files = {p.volume: p for p in plan.projections}
    env_json = objects[("ConfigMap", "gtc-local", naming.ENV_STORE)]["data"]["environment.json"]
    assert files["env-store-src"].files == (
        podspec.ProjectedFile("environment.json", env_json.encode(), 0o644),
    )
    assert files["dev-secrets-src"].files[0].data == b"sealed-v1"
    (init, _) = plan.init_containers
    mounts = {m.volume: m for m in init.mounts}
    assert mounts["env-store-src"].read_only and not mounts["greentic-home"].read_only


def test_docker_params_of_the_worker() -> None:
    plan = worker_plan()
    sources: dict[str, podspec.VolumeSource] = {
        e.volume: ("volume", f"vol-{e.volume}") for e in plan.empty_dirs
    }
    sources |= {p.volume: ("bind", f"/host/{p.volume}") for p in plan.projections}
    params = podspec.docker_params(
        plan.containers[0],
        sources=sources,
        network_mode="container:sandbox",
        labels={"greentic.test/run-id": "r"},
        name="r.ns.pod.worker.0",
    )
    assert params.create["command"] == ["start", "--env", "local"]
    assert "entrypoint" not in params.create
    assert params.create["user"] == "65532:65532"
    assert "GREENTIC_ENV_ID=local" in params.create["environment"]
    assert params.host["network_mode"] == "container:sandbox"
    assert params.host["read_only"] is True
    assert params.host["cap_drop"] == ["ALL"]
    assert params.host["security_opt"] == ["no-new-privileges"]
    assert params.host["nano_cpus"] == 10**9 and params.host["mem_limit"] == 2**30
    assert params.host["group_add"] == ["65532"]
    assert {m["target"]: (m["type"], m["source"], m["read_only"]) for m in params.mounts} == {
        "/var/greentic": ("volume", "vol-greentic-home", False),
        "/tmp": ("volume", "vol-tmp", False),
    }


def test_a_secret_change_rolls_the_worker_only() -> None:
    before, after = rendered(b"sealed-v1"), rendered(b"sealed-v2")
    assert worker_plan(before).identity != worker_plan(after).identity
    assert worker_plan(before).annotations != worker_plan(after).annotations
    assert router_plan(before).identity == router_plan(after).identity


def test_env_store_changes_do_not_restart_pods() -> None:
    """As on a cluster: the env-store ConfigMap has no checksum in any pod template."""
    before, after = rendered(), copy.deepcopy(rendered())
    key = ("ConfigMap", "gtc-local", naming.ENV_STORE)
    after[key]["data"]["environment.json"] = '{"changed": true}\n'
    assert router_plan(before).identity == router_plan(after).identity
    files = {p.volume: p.files for p in worker_plan(after).projections}
    assert files["env-store-src"][0].data == b'{"changed": true}\n'


def test_without_a_secrets_slot_there_is_no_dev_secrets_init() -> None:
    plan = worker_plan(rendered(dev_store=None, secrets=False))
    assert [c.name for c in plan.init_containers] == ["stage-env-store"]
    assert "greentic.ai/dev-store-hash" not in plan.annotations


# -- the in-network fixtures ----------------------------------------------------------------


def test_bundle_server_bytes_ride_in_binary_configmaps() -> None:
    data = b"\x00\x01bundle-bytes"
    objects = podspec.index(k8s_fixtures.bundle_server("gtc-local", {"b.gtbundle": data}))
    (plan,) = podspec.pod_plans(objects)
    assert plan.aliases[0] == k8s_fixtures.BUNDLE_SERVER
    blob = next(p for p in plan.projections if p.kind == "ConfigMap")
    assert blob.files == (podspec.ProjectedFile("part", data, 0o644),)
    (httpd,) = plan.containers
    assert httpd.readiness == podspec.Probe("tcp", 8080)
    assert {m.target: m.read_only for m in httpd.mounts} == {"/srv": True}
    tampered = podspec.index(k8s_fixtures.bundle_server("gtc-local", {"b.gtbundle": b"other"}))
    assert podspec.pod_plans(tampered)[0].identity != plan.identity  # a tamper rolls it


def test_registry_fixture_runs_as_its_image_says() -> None:
    objects = podspec.index(k8s_fixtures.oci_registry("gtc-local", image="greentic-registry:x"))
    (plan,) = podspec.pod_plans(objects)
    (registry,) = plan.containers
    assert registry.entrypoint is None and registry.cmd is None  # the image's own
    assert registry.readiness == podspec.Probe("http", 5000, "/v2/")
    assert plan.aliases == (
        k8s_fixtures.OCI_REGISTRY,
        f"{k8s_fixtures.OCI_REGISTRY}.gtc-local.svc.cluster.local",
    )


# -- the general rules, on hand-made objects ---------------------------------------------------


def deployment(spec: dict[str, Any], *, labels: dict[str, str] | None = None) -> dict[str, Any]:
    labels = labels or {"app": "x"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x", "namespace": "ns"},
        "spec": {"replicas": 1, "template": {"metadata": {"labels": labels}, "spec": spec}},
    }


def main(**extra: Any) -> dict[str, Any]:
    return {"name": "main", "image": "busybox:1.36.1", **extra}


def obj(kind: str, name: str, **body: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": "ns"}, **body}


def test_command_is_the_entrypoint_and_args_the_cmd() -> None:
    both = podspec.container_run(main(command=["sh", "-c"], args=["echo $(X)"], env=[
        {"name": "X", "value": "hi"}
    ]), {}, {}, {})  # fmt: skip
    assert (both.entrypoint, both.cmd) == (("sh", "-c"), ("echo hi",))
    command_only = podspec.container_run(main(command=["sleep", "1"]), {}, {}, {})
    assert (command_only.entrypoint, command_only.cmd) == (("sleep", "1"), ())
    args_only = podspec.container_run(main(args=["-v"]), {}, {}, {})
    assert (args_only.entrypoint, args_only.cmd) == (None, ("-v",))


def test_env_from_configmaps_secrets_and_fields() -> None:
    objects = podspec.index(
        [
            obj("ConfigMap", "cm", data={"A": "1", "B": "2"}),
            obj("Secret", "sec", data={"TOKEN": base64.b64encode(b"t0k").decode()}),
        ]
    )
    run = podspec.container_run(
        main(
            envFrom=[{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
            env=[
                {"name": "T", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "TOKEN"}}},
                {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "P", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "O", "valueFrom": {"configMapKeyRef": {"name": "no", "key": "k",
                                                                "optional": True}}},
            ],
        ),
        {},
        {},
        objects,
        namespace="ns",
        pod_name="x-abc",
    )  # fmt: skip
    assert dict(run.env) == {"CM_A": "1", "CM_B": "2", "T": "t0k", "N": "ns", "P": "x-abc"}
    with pytest.raises(PodSpecError, match="needs key k of ConfigMap cm"):
        podspec.container_run(
            main(env=[{"name": "Z", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}]),
            {},
            {},
            objects,
            namespace="ns",
        )


def test_projection_items_modes_and_optional_sources() -> None:
    objects = podspec.index(
        [
            obj("ConfigMap", "cm", data={"a": "A", "b": "B"}),
            deployment(
                {
                    "containers": [main()],
                    "volumes": [
                        {
                            "name": "v",
                            "configMap": {
                                "name": "cm",
                                "defaultMode": 0o400,
                                "items": [
                                    {"key": "a", "path": "dir/a.txt"},
                                    {"key": "b", "path": "b.txt", "mode": 0o600},
                                ],
                            },
                        },
                        {"name": "gone", "secret": {"secretName": "nope", "optional": True}},
                    ],
                }
            ),
        ]
    )
    (plan,) = podspec.pod_plans(objects)
    files = {p.volume: p.files for p in plan.projections}
    assert files["v"] == (
        podspec.ProjectedFile("b.txt", b"B", 0o600),
        podspec.ProjectedFile("dir/a.txt", b"A", 0o400),
    )
    assert files["gone"] == ()


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        ({"name": "h", "hostPath": {"path": "/"}}, "volume h \\(hostPath\\) is not supported"),
        ({"name": "c", "configMap": {"name": "missing"}}, "needs ConfigMap missing"),
        (
            {"name": "c", "configMap": {"name": "cm", "items": [{"key": "a", "path": "../x"}]}},
            "must be relative",
        ),
    ],
)
def test_unsupported_or_broken_volumes_name_the_problem(
    volume: dict[str, Any], message: str
) -> None:
    objects = podspec.index(
        [
            obj("ConfigMap", "cm", data={"a": "A"}),
            deployment({"containers": [main()], "volumes": [volume]}),
        ]
    )
    with pytest.raises(PodSpecError, match=message):
        podspec.pod_plans(objects)


def test_host_namespaces_are_refused_and_scheduling_fields_ignored() -> None:
    ignored = deployment({"containers": [main()], "nodeSelector": {"a": "b"}, "tolerations": []})
    assert podspec.pod_plans(podspec.index([ignored]))
    refused = deployment({"containers": [main()], "hostNetwork": True})
    with pytest.raises(PodSpecError, match="hostNetwork have no docker-track equivalent"):
        podspec.pod_plans(podspec.index([refused]))


def test_services_alias_matching_pods_only_and_never_remap_ports() -> None:
    def service(selector: dict[str, str], target: int = 80) -> dict[str, Any]:
        return obj("Service", "svc", spec={"selector": selector, "ports": [{"port": 80,
                   "targetPort": target}]})  # fmt: skip

    pod = deployment({"containers": [main()]}, labels={"app": "x", "tier": "web"})
    matching = podspec.index([pod, service({"app": "x"})])
    assert podspec.pod_plans(matching)[0].aliases == ("svc", "svc.ns.svc.cluster.local")
    other = podspec.index([pod, service({"app": "y"})])
    assert podspec.pod_plans(other)[0].aliases == ()
    remap = podspec.index([pod, service({"app": "x"}, target=8080)])
    with pytest.raises(PodSpecError, match="port 80 → targetPort 8080"):
        podspec.pod_plans(remap)


def test_subpath_on_an_emptydir_is_refused_and_on_files_bound() -> None:
    run = podspec.container_run(
        main(volumeMounts=[{"name": "e", "mountPath": "/a", "subPath": "x"},
                           {"name": "f", "mountPath": "/b/c.txt", "subPath": "c.txt"}]),
        {},
        {"e": {"name": "e", "emptyDir": {}}, "f": {"name": "f", "configMap": {"name": "cm"}}},
        {},
    )  # fmt: skip
    sources: dict[str, podspec.VolumeSource] = {"e": ("volume", "v"), "f": ("bind", "/h/f")}
    with pytest.raises(PodSpecError, match="subPath on emptyDir e"):
        podspec.docker_params(run, sources=sources, network_mode="none", labels={}, name="n")
    only_file = podspec.container_run(
        main(volumeMounts=[{"name": "f", "mountPath": "/b/c.txt", "subPath": "c.txt"}]),
        {},
        {"f": {"name": "f", "configMap": {"name": "cm"}}},
        {},
    )
    params = podspec.docker_params(
        only_file, sources=sources, network_mode="none", labels={}, name="n"
    )
    assert params.mounts[0]["source"] == "/h/f/c.txt" and params.mounts[0]["read_only"] is False


def test_run_as_group_without_user_and_odd_seccomp_are_refused() -> None:
    with pytest.raises(PodSpecError, match="runAsGroup without runAsUser"):
        podspec.container_run(main(securityContext={"runAsGroup": 5}), {}, {}, {})
    with pytest.raises(PodSpecError, match="seccompProfile Localhost"):
        podspec.container_run(
            main(securityContext={"seccompProfile": {"type": "Localhost"}}), {}, {}, {}
        )
    unconfined = podspec.container_run(
        main(securityContext={"seccompProfile": {"type": "Unconfined"}}), {}, {}, {}
    )
    assert unconfined.security_opt == ("seccomp=unconfined",)


def test_duplicate_objects_are_refused() -> None:
    with pytest.raises(PodSpecError, match="ConfigMap cm appears twice"):
        podspec.index([obj("ConfigMap", "cm"), obj("ConfigMap", "cm")])


def test_tmpfs_volumes_are_owned_by_the_pod() -> None:
    opts = podspec.tmpfs_options(podspec.EmptyDir("home", 64 * 2**20), uid=65532, gid=65532)
    assert opts == {
        "type": "tmpfs",
        "device": "tmpfs",
        "o": f"uid=65532,gid=65532,mode=2775,size={64 * 2**20}",
    }
    assert podspec.tmpfs_options(podspec.EmptyDir("t"), uid=None, gid=None)["o"] == (
        "uid=0,gid=0,mode=1777"
    )


def test_backoff_doubles_to_its_cap() -> None:
    assert [Backoff().delay(n) for n in range(6)] == [1, 2, 4, 8, 10, 10]
    kubelet = podspec.KUBELET_BACKOFF
    assert [kubelet.delay(n) for n in (0, 1, 4, 5, 50)] == [10, 20, 160, 300, 300]
