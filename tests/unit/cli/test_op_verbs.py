"""Every authoring verb through the real CLI: exact results, store effects, error kinds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greentic.bundle.digest import sha256_file
from greentic.secrets import DevStore
from greentic.store.envstore import Store

from .oprunner import FIXTURES, Op, write_json

PERF = FIXTURES / "perf-smoke.gtbundle"
WEBCHAT = FIXTURES / "webchat-bot.gtbundle"
DIGEST = "sha256:" + "ab" * 32


def ready_env(op: Op, env_id: str = "local") -> None:
    if env_id == "local":
        assert op("env", "init").code == 0
    else:
        assert op("env", "create", env_id, "--name", env_id).code == 0
        assert op("trust-root", "bootstrap", env_id).code == 0


def deployment(op: Op, bundle_id: str = "perf-smoke") -> str:
    return str(op("bundles", "add", f"bundle_id={bundle_id}").result["deployment_id"])


def staged(op: Op, dep: str, bundle: Path = PERF) -> str:
    out = op("revisions", "stage", f"deployment_id={dep}", f"bundle_path={bundle}")
    return str(out.result["revision_id"])


# -- env ------------------------------------------------------------------------------------
def test_env_create_show_list(op: Op, store_root: Path) -> None:
    out = op("env", "create", "prod", "--name", "Prod", "--region", "eu")
    assert out.result == {
        "environment_id": "prod",
        "name": "Prod",
        "region": "eu",
        "tenant_org_id": None,
        "pack_count": 0,
        "bundle_count": 0,
        "revision_count": 0,
    }
    assert op("env", "list").result["environments"] == ["prod"]
    shown = op("env", "show", "prod").result
    assert shown["environment"]["packs"] == [] and shown["runtime"] is None
    assert op("env", "create", "prod").error["kind"] == "conflict"


def test_env_create_forms_and_validation(op: Op, tmp_path: Path) -> None:
    assert op("env", "create", "environment_id=a", "name=A").code == 0
    answers = write_json(tmp_path / "c.json", {"environment_id": "b", "name": "B"})
    assert op("env", "create", answers=answers).result["name"] == "B"
    assert op("env", "create", "c", "name=C").error["kind"] == "invalid-argument"  # mixed
    assert op("env", "create", "..").error["kind"] == "invalid-argument"
    bad_url = op("env", "create", "d", "--public-url", "https://x.example/path")
    assert "origin" in bad_url.error["message"]
    assert op("env", "create").error["kind"] == "invalid-argument"


def test_env_id_dot_dot_is_refused_everywhere(op: Op) -> None:
    for args in (
        ("env", "show", ".."),
        ("trust-root", "bootstrap", ".."),
        ("bundles", "add", "bundle_id=b", "environment_id=.."),
    ):
        out = op(*args)
        assert out.error["kind"] == "invalid-argument", args
        assert ".." in out.error["message"]


def test_env_init_creates_local_with_defaults_and_trust(op: Op, store_root: Path) -> None:
    out = op("env", "init").result
    assert out["outcome"] == "created"
    assert out["bound_slots"] == ["deployer", "secrets", "telemetry", "sessions", "state"]
    assert out["trust_root"]["trusted_key_count"] == 1
    env = Store(store_root).load("local")
    assert env.pack("deployer") is not None
    assert env.pack("deployer").kind == "greentic.deployer.local-process@0.1.0"  # type: ignore[union-attr]
    assert env.host_config.listen_addr == "127.0.0.1:8080"
    again = op("env", "init").result
    assert again["outcome"] == "untouched" and again["trust_root"] is None


# -- trust root -----------------------------------------------------------------------------
def test_trust_root_bootstrap_is_idempotent(op: Op, store_root: Path, operator_key: Path) -> None:
    op("env", "create", "prod", "--name", "p")
    first = op("trust-root", "bootstrap", "prod").result
    second = op("trust-root", "bootstrap", "prod").result
    assert first["operator_key_id"] == second["operator_key_id"]
    assert second["trusted_key_count"] == 1
    assert len(first["operator_key_id"]) == 32
    assert operator_key.stat().st_mode & 0o777 == 0o600
    doc = json.loads((store_root / "prod" / "trust-root.json").read_text())
    assert doc["schema"] == "greentic.trust-root.v1"
    assert op("trust-root", "bootstrap", "missing").error["kind"] == "not-found"


# -- env-packs ------------------------------------------------------------------------------
def test_env_packs_add_stages_answers_and_bumps_generation(
    op: Op, store_root: Path, tmp_path: Path
) -> None:
    op("env", "create", "local", "--name", "local")
    answers = write_json(tmp_path / "deployer-answers.json", {"tunnel": "off"})
    args = ("slot=deployer", "kind=greentic.deployer.k8s@1.0.0", "pack_ref=builtin")
    first = op("env-packs", "add", *args, f"answers_ref={answers}").result
    assert first["answers_ref"] == "env-packs/deployer/answers.json"
    assert first["generation"] == 0
    staged_file = store_root / "local" / "env-packs" / "deployer" / "answers.json"
    assert json.loads(staged_file.read_text()) == {"tunnel": "off"}
    same = op("env-packs", "add", *args, f"answers_ref={answers}").result
    assert same["generation"] == 0 and same["changed"] is False
    write_json(answers, {"tunnel": "cloudflared"})
    changed = op("env-packs", "add", *args, f"answers_ref={answers}").result
    assert changed["generation"] == 1
    assert json.loads(staged_file.read_text()) == {"tunnel": "cloudflared"}


def test_env_packs_add_rejects_bad_slots_and_kinds(op: Op) -> None:
    op("env", "create", "local", "--name", "local")
    msg = op("env-packs", "add", "slot=messaging", "kind=a.b@1.0.0", "pack_ref=x").error
    assert "op messaging endpoint" in msg["message"]
    assert op("env-packs", "add", "slot=deployer", "kind=nope", "pack_ref=x").error["kind"] == (
        "invalid-argument"
    )
    missing = op(
        "env-packs", "add", "slot=deployer", "kind=a.b@1.0.0", "pack_ref=x", "answers_ref=nope.json"
    )
    assert missing.error["kind"] == "io"


def test_env_packs_answers_ref_relative_to_the_answers_file(op: Op, tmp_path: Path) -> None:
    op("env", "create", "local", "--name", "local")
    write_json(tmp_path / "cfg" / "da.json", {"tunnel": "off"})
    payload = write_json(
        tmp_path / "cfg" / "bind.json",
        {
            "slot": "deployer",
            "kind": "greentic.deployer.k8s@1.0.0",
            "pack_ref": "builtin",
            "answers_ref": "da.json",
        },
    )
    assert op("env-packs", "add", answers=payload).result["answers_ref"] == (
        "env-packs/deployer/answers.json"
    )


# -- bundles --------------------------------------------------------------------------------
def test_bundles_add_local_defaults(op: Op, store_root: Path) -> None:
    ready_env(op)
    out = op("bundles", "add", "bundle_id=webchat-bot").result
    assert out["customer_id"] == "local-dev" and out["status"] == "active"
    dep = Store(store_root).load("local").bundles[0]
    assert dep.route_binding.path_prefixes == ["/"]
    dup = op("bundles", "add", "webchat-bot")
    assert dup.error["kind"] == "conflict" and "already deployed" in dup.error["message"]


def test_bundles_add_flags_route(op: Op, store_root: Path) -> None:
    ready_env(op)
    op("bundles", "add", "b", "--path-prefix", "/chat", "--host", "x.test", "--tenant", "t")
    dep = Store(store_root).load("local").bundles[0]
    assert dep.route_binding.hosts == ["x.test"]
    assert dep.route_binding.path_prefixes == ["/chat"]
    assert dep.route_binding.tenant_selector.tenant == "t"


def test_non_local_bundles_need_customer_id(op: Op) -> None:
    ready_env(op, "prod")
    out = op("bundles", "add", "bundle_id=b", "environment_id=prod")
    assert out.error == {
        "kind": "invalid-argument",
        "message": "customer_id is required for non-local env `prod` (the billing principal; P6)",
        "hint": "pass customer_id=<id>",
    }
    ok = op("bundles", "add", "bundle_id=b", "environment_id=prod", "customer_id=acme")
    assert ok.result["customer_id"] == "acme"


def test_bundles_add_needs_a_trusted_operator_key(op: Op) -> None:
    op("env", "create", "prod", "--name", "p")
    out = op("bundles", "add", "b", "--env", "prod", "--customer-id", "c")
    assert out.error["kind"] == "trust-root"
    assert "trust-root bootstrap prod" in out.stderr


def test_bundles_add_missing_env(op: Op) -> None:
    out = op("bundles", "add", "b", "--env", "nowhere", "--customer-id", "c")
    assert out.error["kind"] == "not-found"


# -- revisions ------------------------------------------------------------------------------
def test_revisions_stage_pins_digest_and_source(op: Op, store_root: Path) -> None:
    ready_env(op)
    dep = deployment(op)
    out = op(
        "revisions",
        "stage",
        f"deployment_id={dep}",
        f"bundle_path={PERF}",
        "bundle_source_uri=http://127.0.0.1:8090/bundle.gtbundle",
    ).result
    assert out["lifecycle"] == "staged" and out["sequence"] == 1
    rev = Store(store_root).load("local").revision(out["revision_id"])
    assert rev is not None
    assert rev.bundle_digest == sha256_file(PERF)
    assert rev.bundle_source_uri == "http://127.0.0.1:8090/bundle.gtbundle"
    assert rev.pack_list_lock_ref == f"revisions/{rev.revision_id}/pack-list.lock"
    second = op("revisions", "stage", "--deployment", dep, "--bundle", str(PERF)).result
    assert second["sequence"] == 2


def test_revisions_stage_uri_only_and_errors(op: Op) -> None:
    ready_env(op)
    dep = deployment(op)
    uri_only = op(
        "revisions",
        "stage",
        f"deployment_id={dep}",
        "bundle_source_uri=oci://127.0.0.1:5000/g/b:v1",
        f"bundle_digest={DIGEST}",
    ).result
    assert uri_only["bundle_digest"] == DIGEST
    assert op("revisions", "stage", f"deployment_id={dep}").error["kind"] == "invalid-argument"
    assert (
        op("revisions", "stage", "deployment_id=nope", f"bundle_path={PERF}").error["kind"]
        == "invalid-argument"
    )
    other = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    assert (
        op("revisions", "stage", f"deployment_id={other}", f"bundle_path={PERF}").error["kind"]
        == "not-found"
    )
    wrong = op(
        "revisions",
        "stage",
        f"deployment_id={dep}",
        f"bundle_path={PERF}",
        f"bundle_digest={DIGEST}",
    )
    assert wrong.error["kind"] == "conflict" and "does not match" in wrong.error["message"]
    bad_scheme = op(
        "revisions",
        "stage",
        f"deployment_id={dep}",
        "bundle_source_uri=ftp://x/y",
        f"bundle_digest={DIGEST}",
    )
    assert bad_scheme.error["kind"] == "invalid-argument"


def test_warm_and_archive_lifecycle(op: Op) -> None:
    ready_env(op)
    dep = deployment(op)
    rev = staged(op, dep)
    assert op("revisions", "warm", rev).result["lifecycle"] == "ready"
    assert op("revisions", "warm", rev).result["lifecycle"] == "ready"  # re-stamp
    op("traffic", "set", dep, f"{rev}=100%")
    busy = op("revisions", "archive", rev).error
    assert busy["kind"] == "conflict" and "still referenced by live traffic" in busy["message"]
    rev2 = staged(op, dep)
    op("revisions", "warm", f"revision_id={rev2}")
    op("traffic", "set", dep, f"{rev2}=10000")
    assert op("revisions", "archive", rev).result["lifecycle"] == "archived"
    again = op("revisions", "warm", rev).error
    assert again["kind"] == "conflict" and "expected one of" in again["message"]
    assert op("revisions", "warm", "01ARZ3NDEKTSV4RRFFQ69G5FAV").error["kind"] == "not-found"


# -- traffic --------------------------------------------------------------------------------
def test_traffic_weight_forms_and_sum(op: Op, store_root: Path) -> None:
    ready_env(op)
    dep = deployment(op)
    a, b = staged(op, dep), staged(op, dep)
    op("revisions", "warm", a)
    op("revisions", "warm", b)
    out = op("traffic", "set", dep, f"{a}=25%", f"{b}=7500bps").result
    assert out["entries"] == [
        {"revision_id": a, "weight_bps": 2500},
        {"revision_id": b, "weight_bps": 7500},
    ]
    assert out["generation"] == 0
    replay = op("traffic", "set", dep, f"{b}=7500", f"{a}=2500").result
    assert replay["replayed"] is True and replay["generation"] == 0
    moved = op("traffic", "set", dep, f"{a}=10000").result
    assert moved["generation"] == 1 and moved["has_previous"] is True
    short = op("traffic", "set", dep, f"{a}=50%", f"{b}=40%").error
    assert short == {
        "kind": "invalid-argument",
        "message": "traffic weights must sum to exactly 10000 bps (100%), got 9000",
    }
    rc = json.loads((store_root / "local" / "runtime-config.json").read_text())
    assert [r["weight_bps"] for r in rc["revisions"]] == [10000]


def test_traffic_answers_form_and_idempotency_key(op: Op, tmp_path: Path) -> None:
    ready_env(op)
    dep = deployment(op)
    a = staged(op, dep)
    op("revisions", "warm", a)
    payload = {
        "deployment_id": dep,
        "entries": [{"revision_id": a, "weight_percent": 100}],
        "idempotency_key": "k1",
    }
    f = write_json(tmp_path / "t.json", payload)
    assert op("traffic", "set", answers=f).result["idempotency_key"] == "k1"
    b = staged(op, dep)
    op("revisions", "warm", b)
    payload["entries"] = [{"revision_id": b, "weight_bps": 10000}]
    write_json(f, payload)
    reused = op("traffic", "set", answers=f).error
    assert reused["kind"] == "conflict" and "idempotency key `k1`" in reused["message"]


def test_traffic_refuses_unready_and_foreign_revisions(op: Op) -> None:
    ready_env(op)
    dep = deployment(op)
    rev = staged(op, dep)
    out = op("traffic", "set", dep, f"{rev}=100%").error
    assert out["kind"] == "conflict" and "only `ready` revisions" in out["message"]
    bad = op("traffic", "set", dep, f"{rev}=lots").error
    assert bad["kind"] == "invalid-argument"


# -- secrets --------------------------------------------------------------------------------
PATH = "tenant-default/_/messaging-telegram/telegram_bot_token"


def test_secrets_put_from_env_and_stdin(
    op: Op, store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready_env(op)
    monkeypatch.setenv("BOT_TOKEN", "s3cr3t-value")
    out = op("secrets", "put", PATH, "--from-env", "BOT_TOKEN")
    assert out.result["secret_ref"] == f"secret://local/{PATH}"
    assert "s3cr3t-value" not in out.stdout + out.stderr
    store = DevStore(store_root / "local" / ".greentic" / "dev" / ".dev.secrets.env")
    assert store.get(f"secret://local/{PATH}") == "s3cr3t-value"
    assert b"s3cr3t-value" not in store.path.read_bytes()
    op("secrets", "put", PATH, input="from-stdin\n")
    assert store.get(f"secret://local/{PATH}") == "from-stdin"


def test_secrets_put_refuses_argv_values_and_bad_paths(
    op: Op, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready_env(op)
    out = op("secrets", "put", f"path={PATH}", "value=oops-secret")
    assert out.error["kind"] == "invalid-argument" and "oops-secret" not in out.stderr
    monkeypatch.setenv("V", "x")
    team = op("secrets", "put", "t/default/c/n", "--from-env", "V").error
    assert "`default` is not store-canonical" in team["message"]
    assert op("secrets", "put", "a/b/c", "--from-env", "V").error["kind"] == "invalid-argument"
    unset = op("secrets", "put", PATH, "--from-env", "NOT_SET_ANYWHERE").error
    assert unset["kind"] == "invalid-argument"


def test_secrets_put_needs_a_secrets_binding(op: Op, monkeypatch: pytest.MonkeyPatch) -> None:
    op("env", "create", "local", "--name", "local")
    monkeypatch.setenv("V", "x")
    out = op("secrets", "put", PATH, "--from-env", "V").error
    assert out["kind"] == "conflict" and "no secrets env-pack bound" in out["message"]


# -- messaging ------------------------------------------------------------------------------
def test_messaging_endpoint_add_mints_webhook_secret(op: Op, store_root: Path) -> None:
    ready_env(op)
    out = op(
        "messaging", "endpoint", "add", "name=bot", "provider_type=messaging.telegram.bot"
    ).result
    ep_id = out["endpoint_id"]
    ref = f"secret://local/default/_/messaging-{ep_id.lower()}/webhook_secret"
    assert out["webhook_secret_ref"] == ref
    secret = DevStore(store_root / "local" / ".greentic" / "dev" / ".dev.secrets.env").get(ref)
    assert secret is not None and len(secret) == 32
    assert secret not in (store_root / "local" / "environment.json").read_text()
    dup = op("messaging", "endpoint", "add", "name=bot", "provider_type=messaging.telegram.bot")
    assert dup.error["kind"] == "conflict"
    webchat = op("messaging", "endpoint", "add", "--name", "web", "--provider-type", "webchat")
    assert webchat.result["webhook_secret_ref"] is None


def test_messaging_link_bundle(op: Op) -> None:
    ready_env(op)
    op("messaging", "endpoint", "add", "name=bot", "provider_type=webchat")
    missing = op("messaging", "endpoint", "link-bundle", "name=bot", "bundle_id=app").error
    assert missing == {
        "kind": "not-found",
        "message": "bundle `app` is not deployed in env `local`",
    }
    deployment(op, "app")
    linked = op("messaging", "endpoint", "link-bundle", "name=bot", "bundle_id=app").result
    assert linked["linked_bundles"] == ["app"]
    again = op("messaging", "endpoint", "link-bundle", "name=bot", "bundle_id=app").result
    assert again["linked_bundles"] == ["app"]


# -- deploy ---------------------------------------------------------------------------------
def test_deploy_in_one_step_and_converges(op: Op, store_root: Path) -> None:
    ready_env(op)
    out = op("deploy", f"bundle_path={WEBCHAT}", "bundle_source_uri=http://127.0.0.1:9/b").result
    assert out["bundle_id"] == "webchat-bot" and out["status"] == "routed"
    assert out["traffic"] == "100% (10000 bps)" and out["reused_deployment"] is False
    env = Store(store_root).load("local")
    assert env.routed_revisions()[0][0].revision_id == out["revision_id"]
    again = op("deploy", f"bundle_path={WEBCHAT}", "bundle_source_uri=http://127.0.0.1:9/b")
    assert again.result["revision_id"] == out["revision_id"]
    assert again.result["reused_deployment"] is True
    assert len(Store(store_root).load("local").revisions) == 1


def test_deploy_errors(op: Op) -> None:
    out = op("deploy", f"bundle_path={PERF}")
    assert out.error["kind"] == "not-found" and "env init" in out.error["message"]
    ready_env(op)
    assert op("deploy", "bundle_id=x").error["kind"] == "invalid-argument"
