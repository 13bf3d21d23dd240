"""`env apply` as a function: the seeds/000 manifest pair, re-runs, modes and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from greentic.deployer.apply import apply
from greentic.errors import AnswersParseError, Conflict, InvalidArgument, NotFound
from greentic.secrets import DevStore
from greentic.store.envstore import Store
from tests.support.seeds import DIGEST, TOKEN_PATH, URI, seed_manifest, write_declarative

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "bundles"


@pytest.fixture(autouse=True)
def _key(operator_key: Path) -> None:
    return None


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TELEGRAM_DEMO_BOT_TOKEN", "tg-token-do-not-leak")
    return "tg-token-do-not-leak"


def test_seed_manifest_applies(store_root: Path, tmp_path: Path, token: str) -> None:
    store = Store(store_root)
    lines: list[str] = []
    report = apply(
        store, write_declarative(tmp_path, seed_manifest()), yes=True, progress=lines.append
    )
    assert report["changed"] == 9 and report["no_op"] == 0
    env = store.load("local")
    assert env.name == "k8s" and env.host_config.gui_enabled is True
    deployer = env.pack("deployer")
    assert deployer is not None and deployer.kind == "greentic.deployer.k8s@1.0.0"
    assert deployer.answers_ref == "env-packs/deployer/answers.json"
    staged = store_root / "local" / "env-packs" / "deployer" / "answers.json"
    assert json.loads(staged.read_text())["tunnel"] == "cloudflared"
    ((rev, weight),) = env.routed_revisions()
    assert weight == 10000 and rev.bundle_digest == DIGEST and rev.bundle_source_uri == URI
    (ep,) = env.messaging_endpoints
    assert ep.linked_bundles == ["webchat-bot"] and ep.webhook_secret_ref
    dev = DevStore(store.paths("local").dev_secrets)
    assert dev.get(f"secret://local/{TOKEN_PATH}") == token
    assert (store_root / "local" / "trust-root.json").exists()
    assert lines[0].startswith("plan (9 step(s))")
    for f in store_root.rglob("*"):
        if f.is_file():
            assert token.encode() not in f.read_bytes(), f
    assert token not in json.dumps(report) + "\n".join(lines)


def test_rerun_is_all_no_ops_and_rewrites_nothing(
    store_root: Path, tmp_path: Path, token: str
) -> None:
    store = Store(store_root)
    manifest = write_declarative(tmp_path, seed_manifest())
    apply(store, manifest, yes=True)
    snapshot = {
        f: f.read_bytes()
        for f in (store_root / "local").rglob("*")
        if f.is_file()
        if "audit" not in f.parts
    }
    report = apply(store, manifest, yes=True)
    assert report["changed"] == 0
    assert {s["action"] for s in report["steps"]} == {"no-op"}
    after = {
        f: f.read_bytes()
        for f in (store_root / "local").rglob("*")
        if f.is_file()
        if "audit" not in f.parts
    }
    assert after == snapshot
    assert apply(store, manifest, mode="check")["changed"] == 0


def test_check_and_dry_run(store_root: Path, tmp_path: Path, token: str) -> None:
    store = Store(store_root)
    manifest = write_declarative(tmp_path, seed_manifest())
    dry = apply(store, manifest, mode="dry-run")
    assert dry["changed"] == 9 and not store.exists("local")
    with pytest.raises(Conflict, match="is not converged: 9 pending change"):
        apply(store, manifest, mode="check")
    apply(store, manifest)
    doc = seed_manifest()
    doc["environment"]["name"] = "renamed"
    with pytest.raises(Conflict, match="1 pending change"):
        apply(store, write_declarative(tmp_path, doc), mode="check")


def test_changed_answers_and_token_are_updates(
    store_root: Path, tmp_path: Path, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(store_root)
    manifest = write_declarative(tmp_path, seed_manifest())
    apply(store, manifest)
    (manifest.parent / "deployer-answers.json").write_text('{"tunnel": "off"}')
    monkeypatch.setenv("TELEGRAM_DEMO_BOT_TOKEN", "rotated")
    report = apply(store, manifest)
    changed = {(s["kind"], s["action"]) for s in report["steps"] if s["action"] != "no-op"}
    assert changed == {("update-pack-binding", "update"), ("put-secret", "put")}
    binding = store.load("local").pack("deployer")
    assert binding is not None and binding.generation == 2  # init default → k8s → new answers


def test_local_bundle_path_is_relative_to_the_manifest(store_root: Path, tmp_path: Path) -> None:
    doc = seed_manifest()
    doc["secrets"] = []
    doc["bundles"] = [{"bundle_id": "perf", "bundle_path": "perf.gtbundle"}]
    manifest = write_declarative(tmp_path, doc)
    (manifest.parent / "perf.gtbundle").write_bytes((FIXTURES / "perf-smoke.gtbundle").read_bytes())
    doc["messaging_endpoints"] = []
    manifest.write_text(json.dumps(doc))
    apply(Store(store_root), manifest)
    ((rev, _),) = Store(store_root).load("local").routed_revisions()
    from greentic.bundle.digest import sha256_file

    assert rev.bundle_digest == sha256_file(FIXTURES / "perf-smoke.gtbundle")


def test_named_env_must_exist(store_root: Path, tmp_path: Path, token: str) -> None:
    doc = seed_manifest()
    doc["environment"]["id"] = "prod"
    with pytest.raises(NotFound, match="Run `op env create prod` first"):
        apply(Store(store_root), write_declarative(tmp_path, doc))
    assert not Store(store_root).exists("prod")


def test_non_local_bundles_need_customer_id(store_root: Path, tmp_path: Path, token: str) -> None:
    from greentic.deployer import env

    env.create(Store(store_root), env.EnvCreatePayload(environment_id="prod", name="prod"))
    doc = seed_manifest()
    doc["environment"]["id"] = "prod"
    with pytest.raises(InvalidArgument, match="customer_id is required for non-local env"):
        apply(Store(store_root), write_declarative(tmp_path, doc))


def test_unknown_keys_are_named(store_root: Path, tmp_path: Path) -> None:
    doc = seed_manifest()
    doc["bundles"][0]["bundel_digest"] = "x"
    with pytest.raises(AnswersParseError, match="unknown key `bundel_digest`"):
        apply(Store(store_root), write_declarative(tmp_path, doc))
    doc = seed_manifest()
    doc["extra_top"] = 1
    with pytest.raises(AnswersParseError, match="unknown key `extra_top`"):
        apply(Store(store_root), write_declarative(tmp_path, doc))


def test_wrong_schema(store_root: Path, tmp_path: Path) -> None:
    doc = seed_manifest()
    doc["schema"] = "greentic.env-manifest.v2"
    with pytest.raises(AnswersParseError, match=r"not the expected `greentic\.env-manifest\.v1`"):
        apply(Store(store_root), write_declarative(tmp_path, doc))


def test_unset_secret_without_tty_is_a_clear_error(store_root: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"TELEGRAM_DEMO_BOT_TOKEN is unset"):
        apply(Store(store_root), write_declarative(tmp_path, seed_manifest()))
    assert not Store(store_root).exists("local")


def test_unset_secret_on_a_tty_is_prompted(store_root: Path, tmp_path: Path) -> None:
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return "typed-token"

    apply(
        Store(store_root),
        write_declarative(tmp_path, seed_manifest()),
        interactive=True,
        prompt=prompt,
        yes=True,
    )
    assert "TELEGRAM_DEMO_BOT_TOKEN is unset" in asked[0]
    dev = DevStore(Store(store_root).paths("local").dev_secrets)
    assert dev.get(f"secret://local/{TOKEN_PATH}") == "typed-token"


def test_confirmation_declined_changes_nothing(
    store_root: Path, tmp_path: Path, token: str
) -> None:
    with pytest.raises(Conflict, match="not confirmed"):
        apply(
            Store(store_root),
            write_declarative(tmp_path, seed_manifest()),
            interactive=True,
            confirm=lambda _q: False,
        )
    assert not Store(store_root).exists("local")


def test_uri_only_bundle_needs_a_digest(store_root: Path, tmp_path: Path, token: str) -> None:
    doc = seed_manifest()
    del doc["bundles"][0]["bundle_digest"]
    with pytest.raises(InvalidArgument, match="needs `bundle_digest`"):
        apply(Store(store_root), write_declarative(tmp_path, doc))


def test_link_to_an_unknown_bundle(store_root: Path, tmp_path: Path, token: str) -> None:
    doc = seed_manifest()
    doc["messaging_endpoints"][0]["links"] = ["ghost"]
    with pytest.raises(InvalidArgument, match="links bundle `ghost`"):
        apply(Store(store_root), write_declarative(tmp_path, doc))


def test_link_satisfied_only_by_the_deployed_bundle_warns(
    store_root: Path, tmp_path: Path, token: str
) -> None:
    store = Store(store_root)
    apply(store, write_declarative(tmp_path, seed_manifest()), yes=True)
    doc = seed_manifest()
    doc["bundles"] = []  # the endpoint still links webchat-bot, deployed by the first apply
    report = apply(store, write_declarative(tmp_path, doc), mode="dry-run")
    assert report["warnings"] == [
        "endpoint `webchat-bot` links `webchat-bot`, satisfied only by the existing deployment"
    ]


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d["packs"].append(dict(d["packs"][0])), "duplicate slot"),
        (lambda d: d["packs"][0].update(answers={"a": 1}), "mutually exclusive"),
        (lambda d: d["bundles"][0].update(bundle_source_uri=None), "needs a `bundle_path`"),
        (lambda d: d["bundles"][0].update(bundle_digest="sha256:zz"), "64 hex"),
        (lambda d: d.update(trust_root="mint"), "trust_root"),
        (lambda d: d["environment"].update(id=".."), "not safe as a path segment"),
    ],
)
def test_shape_errors(store_root: Path, tmp_path: Path, mutate: Any, match: str) -> None:
    doc = seed_manifest()
    mutate(doc)
    with pytest.raises(AnswersParseError, match=match):
        apply(Store(store_root), write_declarative(tmp_path, doc))


def test_bad_secret_path(store_root: Path, tmp_path: Path, token: str) -> None:
    doc = seed_manifest()
    doc["secrets"][0]["path"] = "tenant-default/default/messaging-telegram/telegram_bot_token"
    with pytest.raises(InvalidArgument, match="not store-canonical"):
        apply(Store(store_root), write_declarative(tmp_path, doc))


def test_yaml_manifest_with_inline_answers(store_root: Path, tmp_path: Path, token: str) -> None:
    import yaml

    doc = seed_manifest()
    doc["packs"][0] = {
        "slot": "deployer",
        "kind": "greentic.deployer.k8s@1.0.0",
        "pack_ref": "builtin",
        "answers": {"tunnel": "off"},
    }
    path = tmp_path / "k8s.env.yaml"
    path.write_text(yaml.safe_dump(doc))
    apply(Store(store_root), path)
    staged = store_root / "local" / "env-packs" / "deployer" / "answers.json"
    assert json.loads(staged.read_text()) == {"tunnel": "off"}
    assert apply(Store(store_root), path)["changed"] == 0
