"""The pure diff of env apply: given a current env and a resolved manifest, which steps."""

from __future__ import annotations

from greentic.deployer.apply import plan
from greentic.deployer.apply.resolve import (
    Resolved,
    ResolvedBundle,
    ResolvedPack,
    ResolvedSecret,
    Secret,
)
from greentic.deployer.env import default_bindings
from greentic.spec.environment import (
    BundleDeployment,
    Environment,
    HostConfig,
    Revision,
    TrafficEntry,
    TrafficSplit,
)
from greentic.spec.manifest import EnvManifest

DEP = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
REV = "01ARZ3NDEKTSV4RRFFQ69G5FAW"
DIGEST = "sha256:" + "1" * 64
AT = "2026-01-01T00:00:00.000000Z"


def manifest(**extra: object) -> EnvManifest:
    return EnvManifest.model_validate(
        {"schema": "greentic.env-manifest.v1", "environment": {"id": "local"}, **extra}
    )


def resolved(current: Environment | None, **kw: object) -> Resolved:
    base: dict[str, object] = {
        "env_id": "local",
        "exists": current is not None,
        "current": current,
        "name": None,
        "region": None,
        "tenant_org_id": None,
        "listen_addr": None,
        "public_base_url": None,
        "gui_enabled": None,
        "trust_root": False,
    }
    return Resolved(**(base | kw))  # type: ignore[arg-type]


def routed_env() -> Environment:
    return Environment(
        environment_id="local",
        name="local",
        host_config=HostConfig(env_id="local", listen_addr="127.0.0.1:8080"),
        packs=default_bindings(),
        bundles=[
            BundleDeployment(
                deployment_id=DEP,
                env_id="local",
                bundle_id="app",
                customer_id="local-dev",
                created_at=AT,
            )
        ],
        revisions=[
            Revision(
                revision_id=REV,
                env_id="local",
                bundle_id="app",
                deployment_id=DEP,
                sequence=1,
                created_at=AT,
                bundle_digest=DIGEST,
                bundle_source_uri="oci://h/a:v1",
                pack_list_lock_ref=f"revisions/{REV}/pack-list.lock",
                lifecycle="ready",
            )
        ],
        traffic_splits=[
            TrafficSplit(
                env_id="local",
                deployment_id=DEP,
                bundle_id="app",
                entries=[TrafficEntry(revision_id=REV, weight_bps=10000)],
                updated_at=AT,
                idempotency_key="k",
            )
        ],
    )


def actions(p: plan.Plan) -> list[tuple[str, str, str]]:
    return [(s.kind, s.key, s.action) for s in p.steps]


def test_fresh_local_diffs_against_the_default_bindings() -> None:
    r = resolved(None, trust_root=True, name="k8s")
    r.packs = [ResolvedPack("deployer", "greentic.deployer.k8s@1.0.0", "builtin", b"{}\n", "a")]
    p = plan.diff(r, manifest(), staged_answers={}, operator_trusted=False)
    assert actions(p) == [
        ("ensure-environment", "local", "create"),
        ("update-host-config", "local", "update"),
        ("bootstrap-trust-root", "local", "create"),
        ("update-pack-binding", "deployer", "update"),
    ]


def test_converged_env_is_all_no_ops() -> None:
    env = routed_env()
    r = resolved(env, trust_root=True)
    r.bundles = [ResolvedBundle("app", "local-dev", None, None, DIGEST, None, "oci://h/a:v1")]
    r.secrets = [ResolvedSecret("t/_/c/n", "secret://local/t/_/c/n", Secret("v"), "env:V")]
    r.current_secrets = {"secret://local/t/_/c/n": "v"}
    p = plan.diff(r, manifest(), staged_answers={}, operator_trusted=True)
    assert p.pending == []
    assert [s.kind for s in p.steps] == [
        "ensure-environment",
        "update-host-config",
        "bootstrap-trust-root",
        "put-secret",
        "deploy-bundle",
    ]


def test_new_digest_restages_and_new_route_updates() -> None:
    from greentic.spec.environment import RouteBinding

    r = resolved(routed_env())
    route = RouteBinding(path_prefixes=["/chat"])
    r.bundles = [
        ResolvedBundle("app", "local-dev", None, route, "sha256:" + "2" * 64, None, "oci://h/a:v2")
    ]
    p = plan.diff(r, manifest(), staged_answers={}, operator_trusted=True)
    assert actions(p)[-2:] == [
        ("update-bundle", "app", "update"),
        ("deploy-bundle", "app", "update"),
    ]


def test_secret_rows() -> None:
    r = resolved(routed_env())
    r.secrets = [
        ResolvedSecret("t/_/c/a", "secret://local/t/_/c/a", Secret("new"), "env:A"),
        ResolvedSecret("t/_/c/b", "secret://local/t/_/c/b", None, "dev-store"),
        ResolvedSecret("t/_/c/c", "secret://local/t/_/c/c", None, "$C is unset", missing=True),
    ]
    r.current_secrets = {"secret://local/t/_/c/a": "old"}
    p = plan.diff(r, manifest(), staged_answers={}, operator_trusted=True)
    rows = [(s.key, s.action) for s in p.steps if s.kind == "put-secret"]
    assert rows == [("t/_/c/a", "put"), ("t/_/c/b", "no-op"), ("t/_/c/c", "put")]
    assert all("new" not in line and "old" not in line for line in plan.render(p))


def test_endpoints_and_links() -> None:
    env = routed_env()
    r = resolved(env)
    m = manifest(
        messaging_endpoints=[{"name": "bot", "provider_type": "webchat", "links": ["app"]}]
    )
    p = plan.diff(r, m, staged_answers={}, operator_trusted=True)
    assert actions(p)[-2:] == [
        ("add-endpoint", "bot", "create"),
        ("link-endpoint", "bot->app", "create"),
    ]


def test_step_keys_are_stable_and_depend_on_desired_state() -> None:
    a = plan.step_key("local", "deploy-bundle", "app", {"digest": "x"})
    assert a == plan.step_key("local", "deploy-bundle", "app", {"digest": "x"})
    assert a != plan.step_key("local", "deploy-bundle", "app", {"digest": "y"})
    assert len(a) == 26


def test_secret_never_prints() -> None:
    assert "hunter2" not in repr(Secret("hunter2")) + str(Secret("hunter2"))
