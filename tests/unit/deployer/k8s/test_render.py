from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from kubernetes_validate import utils as kv

from greentic.deployer.k8s import answers, manifests, naming, render
from greentic.deployer.k8s.answers import K8sAnswers
from greentic.deployer.k8s.bodies import Body
from greentic.errors import Conflict, NotYetImplemented
from greentic.spec import runtime_config
from greentic.spec.environment import Environment, EnvPackBinding
from tests.support import psa

from . import envs

ENV_LEVEL = [
    ("Namespace", "gtc-local"),
    ("ConfigMap", "gtc-env-store"),
    ("ConfigMap", "gtc-runtime-config"),
    ("Deployment", "gtc-router"),
    ("Service", "gtc-router"),
    ("PodDisruptionBudget", "gtc-router"),
    ("NetworkPolicy", "gtc-default-deny"),
    ("NetworkPolicy", "gtc-allow-dns"),
    ("NetworkPolicy", "gtc-allow-router"),
    ("NetworkPolicy", "gtc-allow-workers"),
    ("NetworkPolicy", "gtc-allow-worker-egress"),
    ("NetworkPolicy", "gtc-allow-router-egress"),
]
EMPTY_HASH = "80852ffca8497a651fbbecfbfe9d086df79e3fbfa5cde7fa331402478e545996"
FULL = answers.parse(
    {
        "tunnel": "cloudflared",
        "oci_insecure_registries": "reg.local:5000",
        "image_pull_policy": "IfNotPresent",
        "image_pull_secrets": ["regcred"],
        "ingress": {"host": "chat.example.com", "class": "nginx", "tls_secret": "chat-tls"},
    }
)


def names(objs: list[Body]) -> list[tuple[str, str]]:
    return [(o["kind"], o["metadata"]["name"]) for o in objs]


def by(objs: list[Body], kind: str, name: str) -> Any:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def worker(env: Environment, n: int = 0) -> str:
    return naming.worker_name(env.revisions[n].revision_id)


def pod(dep: Any) -> Any:
    return dep["spec"]["template"]["spec"]


# -- counts and names -------------------------------------------------------------------------


def test_m2_env_renders_14_objects(m2: Environment) -> None:
    objs = render.objects(m2, K8sAnswers(), dev_store=None)
    assert len(objs) == 14
    assert names(objs) == [*ENV_LEVEL, ("Deployment", worker(m2)), ("Service", worker(m2))]


def test_webchat_env_renders_15_objects(webchat: Environment) -> None:
    objs = render.objects(webchat, K8sAnswers(), dev_store=b"sealed")
    assert len(objs) == 15
    assert names(objs) == [
        *ENV_LEVEL,
        ("Secret", "gtc-dev-secrets"),
        ("Deployment", worker(webchat)),
        ("Service", worker(webchat)),
    ]


def test_archiving_the_only_revision_leaves_12_or_13(m2: Environment, webchat: Environment) -> None:
    assert names(render.objects(envs.archived(m2), K8sAnswers(), dev_store=None)) == ENV_LEVEL
    objs = render.objects(envs.archived(webchat), K8sAnswers(), dev_store=None)
    assert names(objs) == [*ENV_LEVEL, ("Secret", "gtc-dev-secrets")]


def test_two_revision_split_renders_16() -> None:
    env = envs.m2_env(revisions=2)
    objs = render.objects(env, K8sAnswers(), dev_store=None)
    assert len(objs) == 16
    assert names(objs)[12:] == [
        ("Deployment", worker(env, 0)),
        ("Service", worker(env, 0)),
        ("Deployment", worker(env, 1)),
        ("Service", worker(env, 1)),
    ]


@pytest.mark.parametrize(
    ("lifecycle", "present"),
    [
        ("staged", False),
        ("warming", True),
        ("ready", True),
        ("draining", True),
        ("failed", False),
        ("archived", False),
    ],
)
def test_presence_matrix(lifecycle: str, present: bool) -> None:
    env = envs.m2_env()
    doc = env.to_json_dict()
    doc["traffic_splits"] = []
    doc["revisions"][0]["lifecycle"] = lifecycle
    objs = render.objects(Environment.model_validate(doc), K8sAnswers(), dev_store=None)
    assert len(objs) == 12 + (2 if present else 0)


def test_workers_follow_revision_order_with_inactive_skipped() -> None:
    env = envs.m2_env(revisions=2)
    doc = env.to_json_dict()
    third = envs.revision("local", "perf-smoke", 3, lifecycle="staged").to_json_dict()
    doc["revisions"].insert(1, third)
    objs = render.objects(Environment.model_validate(doc), K8sAnswers(), dev_store=None)
    assert len(objs) == 12 + 4


def test_custom_namespace_and_hashed_env(m2: Environment) -> None:
    objs = render.objects(m2, answers.parse({"namespace": "team-a"}), dev_store=None)
    assert objs[0]["metadata"] == {
        "name": "team-a",
        "labels": naming.common_labels("local", "namespace"),
    }
    assert all(o["metadata"].get("namespace") == "team-a" for o in objs[1:])
    env = envs.m2_env("Prod.EU_west")
    objs = render.objects(env, K8sAnswers(), dev_store=None)
    assert objs[0]["metadata"]["name"] == "gtc-prod-eu-west-eb74f49e"
    assert objs[0]["metadata"]["labels"][naming.ENV_LABEL] == "Prod.EU_west"


# -- determinism ------------------------------------------------------------------------------


def test_render_is_byte_for_byte_deterministic(webchat: Environment) -> None:
    first = manifests.dump_all(render.objects(webchat, FULL, dev_store=b"x"))
    second = manifests.dump_all(render.objects(envs.webchat_env(), FULL, dev_store=b"x"))
    assert first == second
    assert json.dumps(render.objects(webchat, FULL, dev_store=b"x")) == json.dumps(
        render.objects(webchat, FULL, dev_store=b"x")
    )


def test_no_shared_sub_objects(m2: Environment) -> None:
    objs = render.objects(m2, FULL, dev_store=None)
    assert "&id" not in manifests.dump_all(objs)
    seen: dict[int, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict | list):
            assert id(node) not in seen, node
            seen[id(node)] = node
            for child in node.values() if isinstance(node, dict) else node:
                walk(child)

    walk(objs)


# -- labels, selectors ----------------------------------------------------------------------


def test_labels_and_selectors(m2: Environment) -> None:
    objs = render.objects(m2, K8sAnswers(), dev_store=None)
    for obj in objs:
        labels = obj["metadata"]["labels"]
        assert labels[naming.MANAGED_BY] == "greentic"
        assert labels[naming.ENV_LABEL] == "local"
        assert "annotations" not in obj["metadata"]
    components = {o["metadata"]["name"]: o["metadata"]["labels"][naming.COMPONENT] for o in objs}
    assert components["gtc-local"] == "namespace"
    assert components["gtc-env-store"] == "env-store"
    assert components["gtc-runtime-config"] == "router"
    assert components["gtc-router"] == "router"
    assert components["gtc-default-deny"] == "network-policy"
    rev = m2.revisions[0]
    dep = by(objs, "Deployment", worker(m2))
    want = {
        **naming.common_labels("local", "worker"),
        "greentic.ai/revision": rev.revision_id,
        "greentic.ai/deployment": rev.deployment_id,
        "greentic.ai/bundle": "perf-smoke",
    }
    assert dep["metadata"]["labels"] == want
    assert dep["spec"]["template"]["metadata"]["labels"] == want
    assert dep["spec"]["selector"] == {"matchLabels": {"greentic.ai/revision": rev.revision_id}}
    svc = by(objs, "Service", worker(m2))
    assert svc["spec"]["selector"] == {"greentic.ai/revision": rev.revision_id}
    assert svc["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": 8080}]
    router_labels = naming.common_labels("local", "router")
    router = by(objs, "Deployment", "gtc-router")
    assert router["spec"]["selector"]["matchLabels"] == router_labels
    assert by(objs, "Service", "gtc-router")["spec"]["selector"] == router_labels
    pdb = by(objs, "PodDisruptionBudget", "gtc-router")
    assert pdb["spec"] == {"minAvailable": 1, "selector": {"matchLabels": router_labels}}


# -- pods -----------------------------------------------------------------------------------


def test_router_deployment(m2: Environment) -> None:
    router = by(
        render.objects(m2, answers.parse({"router_replicas": 3}), dev_store=None),
        "Deployment",
        "gtc-router",
    )
    assert router["spec"]["replicas"] == 3
    spec = pod(router)
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    assert spec["topologySpreadConstraints"][0]["whenUnsatisfiable"] == "ScheduleAnyway"
    (c,) = spec["containers"]
    assert c["name"] == "router"
    assert c["image"] == "greentic-runtime:local"
    assert "imagePullPolicy" not in c and "command" not in c
    assert c["args"] == ["start", "--env", "local"]
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert c["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    assert c["readinessProbe"] == {
        "httpGet": {"path": "/healthz", "port": 8080},
        "initialDelaySeconds": 2,
        "periodSeconds": 5,
    }
    assert c["volumeMounts"] == [
        {"name": "greentic-home", "mountPath": "/var/greentic"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    assert spec["volumes"] == [
        {"name": "greentic-home", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
        {"name": "env-store-src", "configMap": {"name": "gtc-env-store"}},
    ]
    assert [i["name"] for i in spec["initContainers"]] == ["stage-env-store"]


def test_env_vars_in_upstream_order(m2: Environment) -> None:
    objs = render.objects(
        m2, answers.parse({"oci_insecure_registries": ["r:5000", "s:1"]}), dev_store=None
    )
    router_env = pod(by(objs, "Deployment", "gtc-router"))["containers"][0]["env"]
    assert router_env == [
        {"name": "GREENTIC_ENV_ID", "value": "local"},
        {"name": "HOME", "value": "/var/greentic"},
        {"name": "GREENTIC_GATEWAY_LISTEN_ADDR", "value": "0.0.0.0"},
        {"name": "RAYON_NUM_THREADS", "value": "4"},
        {"name": "GREENTIC_OCI_INSECURE_REGISTRIES", "value": "r:5000,s:1"},
    ]
    rev = m2.revisions[0]
    worker_env = pod(by(objs, "Deployment", worker(m2)))["containers"][0]["env"]
    assert worker_env == [
        *router_env,
        {"name": "GREENTIC_REVISION_ID", "value": rev.revision_id},
        {"name": "GREENTIC_DEPLOYMENT_ID", "value": rev.deployment_id},
        {"name": "GREENTIC_BUNDLE_ID", "value": "perf-smoke"},
        {"name": "GREENTIC_BUNDLE_DIGEST", "value": rev.bundle_digest},
    ]
    plain = render.objects(m2, K8sAnswers(), dev_store=None)
    names_only = [
        e["name"] for e in pod(by(plain, "Deployment", "gtc-router"))["containers"][0]["env"]
    ]
    assert "GREENTIC_OCI_INSECURE_REGISTRIES" not in names_only


def test_init_containers(webchat: Environment) -> None:
    objs = render.objects(webchat, K8sAnswers(), dev_store=b"sealed")
    spec = pod(by(objs, "Deployment", worker(webchat)))
    stage_env, stage_secrets = spec["initContainers"]
    home = "/var/greentic/.greentic/environments/local"
    assert stage_env["image"] == "busybox:1.36.1"
    assert stage_env["command"] == [
        "sh",
        "-c",
        f"set -eu; mkdir -p '{home}'; cp /etc/greentic/env-store/environment.json "
        f"'{home}/environment.json'",
    ]
    assert stage_env["volumeMounts"] == [
        {"name": "env-store-src", "mountPath": "/etc/greentic/env-store", "readOnly": True},
        {"name": "greentic-home", "mountPath": "/var/greentic"},
    ]
    assert stage_secrets["name"] == "stage-dev-secrets"
    src = "/etc/greentic/dev-secrets/.dev.secrets.env"
    assert stage_secrets["command"][2] == (
        f"set -eu; mkdir -p '{home}/.greentic/dev'; if [ -f '{src}' ]; then cp '{src}' "
        f"'{home}/.greentic/dev/.dev.secrets.env'; fi"
    )
    assert stage_secrets["securityContext"] == stage_env["securityContext"]
    assert spec["volumes"][-1] == {
        "name": "dev-secrets-src",
        "secret": {"secretName": "gtc-dev-secrets", "optional": True},
    }
    router_inits = pod(by(objs, "Deployment", "gtc-router"))["initContainers"]
    assert [i["name"] for i in router_inits] == ["stage-env-store"]


def test_tunnel_args_only_on_workers(m2: Environment) -> None:
    objs = render.objects(m2, answers.parse({"tunnel": "cloudflared"}), dev_store=None)
    assert pod(by(objs, "Deployment", worker(m2)))["containers"][0]["args"] == [
        "start",
        "--env",
        "local",
        "--cloudflared",
        "on",
        "--cloudflared-binary",
        "/usr/local/bin/cloudflared",
    ]
    assert pod(by(objs, "Deployment", "gtc-router"))["containers"][0]["args"] == [
        "start",
        "--env",
        "local",
    ]


def test_tunnel_with_two_routed_revisions_is_refused() -> None:
    env = envs.m2_env(revisions=2)
    with pytest.raises(Conflict, match="2 webhooks would compete") as info:
        render.objects(env, answers.parse({"tunnel": "cloudflared"}), dev_store=None)
    assert "tunnel: off" in (info.value.hint or "")
    assert len(render.objects(env, K8sAnswers(), dev_store=None)) == 16


# -- config maps, secret, hash ------------------------------------------------------------------


def test_env_store_carries_environment_json_as_stored(m2: Environment) -> None:
    stored = '{\n  "exact": "bytes"\n}\n'
    objs = render.objects(m2, K8sAnswers(), dev_store=None, env_json=stored)
    assert by(objs, "ConfigMap", "gtc-env-store")["data"] == {"environment.json": stored}
    default = render.objects(m2, K8sAnswers(), dev_store=None)
    text = by(default, "ConfigMap", "gtc-env-store")["data"]["environment.json"]
    assert Environment.model_validate_json(text) == m2
    assert text == render.stored_form(m2)


def test_stored_form_is_the_stores_pretty_json(webchat: Environment) -> None:
    from greentic.store.atomic import pretty_json

    env = webchat.model_copy(update={"name": "Café ☕"})  # non-ASCII kept, as the store writes
    assert render.stored_form(env) == pretty_json(env.to_json_dict()).decode()


def test_runtime_config_is_compact_projection(m2: Environment) -> None:
    objs = render.objects(m2, K8sAnswers(), dev_store=None)
    data = by(objs, "ConfigMap", "gtc-runtime-config")["data"]["runtime-config.json"]
    assert " " not in data
    assert json.loads(data) == runtime_config.project(m2).to_json_dict()


def test_oversized_environment_is_refused(m2: Environment) -> None:
    with pytest.raises(Conflict, match="holds at most"):
        render.objects(m2, K8sAnswers(), dev_store=None, env_json="x" * (1024 * 1024 + 1))


def test_dev_store_secret_and_hash(webchat: Environment) -> None:
    objs = render.objects(webchat, K8sAnswers(), dev_store=b"sealed-bytes")
    secret = by(objs, "Secret", "gtc-dev-secrets")
    b64 = base64.b64encode(b"sealed-bytes").decode()
    assert secret["type"] == "Opaque"
    assert secret["data"] == {".dev.secrets.env": b64}
    annotations = by(objs, "Deployment", worker(webchat))["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert annotations == {"greentic.ai/dev-store-hash": hashlib.sha256(b64.encode()).hexdigest()}


def test_dev_store_hash_changes_with_the_secret(webchat: Environment) -> None:
    def hash_of(data: bytes | None) -> str:
        objs = render.objects(webchat, K8sAnswers(), dev_store=data)
        meta = by(objs, "Deployment", worker(webchat))["spec"]["template"]["metadata"]
        return str(meta["annotations"]["greentic.ai/dev-store-hash"])

    assert hash_of(b"one") != hash_of(b"two")
    assert hash_of(b"one") == hash_of(b"one")
    assert hash_of(None) == EMPTY_HASH == render.dev_store_hash(None)


def test_empty_secret_without_dev_store_file(webchat: Environment) -> None:
    objs = render.objects(webchat, K8sAnswers(), dev_store=None)
    assert by(objs, "Secret", "gtc-dev-secrets")["data"] == {}


def test_no_annotation_without_secrets_slot(m2: Environment) -> None:
    objs = render.objects(m2, K8sAnswers(), dev_store=b"ignored")
    assert "annotations" not in by(objs, "Deployment", worker(m2))["spec"]["template"]["metadata"]
    assert "dev-secrets-src" not in json.dumps(objs)


def test_other_secrets_backends(m2: Environment) -> None:
    vault = m2.model_copy(
        update={
            "packs": [
                *m2.packs,
                EnvPackBinding(
                    slot="secrets", kind="greentic.secrets.vault@1.0.0", pack_ref="builtin"
                ),
            ]
        }
    )
    with pytest.raises(NotYetImplemented, match=r"greentic\.secrets\.vault"):
        render.objects(vault, K8sAnswers(), dev_store=None)
    odd = m2.model_copy(
        update={
            "packs": [
                *m2.packs,
                EnvPackBinding(slot="secrets", kind="acme.secrets@1.0.0", pack_ref="builtin"),
            ]
        }
    )
    with pytest.raises(Conflict, match=r"unknown secrets backend kind `acme\.secrets@1\.0\.0`"):
        render.objects(odd, K8sAnswers(), dev_store=None)


# -- network policies -------------------------------------------------------------------------


def test_network_policies(m2: Environment) -> None:
    objs = render.objects(m2, K8sAnswers(), dev_store=None)
    policies = {o["metadata"]["name"]: o["spec"] for o in objs if o["kind"] == "NetworkPolicy"}
    assert list(policies) == [name for kind, name in ENV_LEVEL if kind == "NetworkPolicy"]
    assert policies["gtc-default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert policies["gtc-allow-dns"]["egress"] == [
        {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    ]
    router = policies["gtc-allow-router"]
    assert router["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8080}]}]
    assert router["egress"][0]["to"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "worker"}}}
    ]
    workers = policies["gtc-allow-workers"]
    assert workers["podSelector"] == {"matchLabels": {"app.kubernetes.io/component": "worker"}}
    assert workers["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "router"}}}
    ]
    assert policies["gtc-allow-worker-egress"]["podSelector"]["matchLabels"] == (
        naming.common_labels("local", "worker")
    )


def test_egress_toggles_on_pullable_routed_revision() -> None:
    def egress(env: Environment) -> list[Any]:
        objs = render.objects(env, K8sAnswers(), dev_store=None)
        return [
            by(objs, "NetworkPolicy", n)["spec"]["egress"]
            for n in ("gtc-allow-worker-egress", "gtc-allow-router-egress")
        ]

    assert egress(envs.m2_env(source=True)) == [[{}], [{}]]
    assert egress(envs.m2_env(source=False)) == [[], []]
    assert egress(envs.archived(envs.m2_env(source=True))) == [[], []]


# -- opt-in keys ---------------------------------------------------------------------------------


def test_ingress_pull_policy_and_secrets(m2: Environment) -> None:
    objs = render.objects(m2, FULL, dev_store=None)
    assert len(objs) == 15
    assert names(objs)[6] == ("Ingress", "gtc-router")
    ing = by(objs, "Ingress", "gtc-router")
    assert ing["spec"] == {
        "ingressClassName": "nginx",
        "tls": [{"hosts": ["chat.example.com"], "secretName": "chat-tls"}],
        "rules": [
            {
                "host": "chat.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {"name": "gtc-router", "port": {"number": 8080}}
                            },
                        }
                    ]
                },
            }
        ],
    }
    for name in ("gtc-router", worker(m2)):
        spec = pod(by(objs, "Deployment", name))
        assert spec["imagePullSecrets"] == [{"name": "regcred"}]
        assert spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
        assert all("imagePullPolicy" not in i for i in spec["initContainers"])


# -- schema and pod security -----------------------------------------------------------------

VARIANTS = {
    "m2": lambda: render.objects(envs.m2_env(), K8sAnswers(), dev_store=None),
    "m2-split": lambda: render.objects(envs.m2_env(revisions=2), K8sAnswers(), dev_store=None),
    "m2-full": lambda: render.objects(envs.m2_env(), FULL, dev_store=None),
    "webchat": lambda: render.objects(envs.webchat_env(), FULL, dev_store=b"sealed"),
    "archived": lambda: render.objects(
        envs.archived(envs.webchat_env()), K8sAnswers(), dev_store=None
    ),
    "hashed-env": lambda: render.objects(envs.m2_env("Prod.EU_west"), K8sAnswers(), dev_store=None),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_object_validates_strictly(variant: str) -> None:
    version = kv.latest_version()
    for obj in VARIANTS[variant]():
        assert kv.validate(obj, version, strict=True) == kv.major_minor(version)  # type: ignore[arg-type]


def test_strict_validation_would_catch_a_typo(m2: Environment) -> None:
    obj: Any = render.objects(m2, K8sAnswers(), dev_store=None)[3]
    obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kv.ValidationError):
        kv.validate(obj, kv.latest_version(), strict=True)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_pod_passes_restricted(variant: str) -> None:
    templates = [t for obj in VARIANTS[variant]() for t in psa.pod_templates(obj)]
    assert templates
    for spec, pod_annotations in templates:
        assert psa.violations(spec, pod_annotations) == []
