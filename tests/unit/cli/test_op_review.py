"""Operator-path defects found by walking the real `op` verbs: each test pins one fix."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from greentic.store.envstore import Store

from .oprunner import FIXTURES, Op, write_json

PERF = FIXTURES / "perf-smoke.gtbundle"


def _ready(op: Op) -> tuple[str, str]:
    """env `local` with one deployment and one ready revision: (deployment_id, revision_id)."""
    assert op("env", "init").code == 0
    dep = str(op("bundles", "add", "bundle_id=app").result["deployment_id"])
    rev = str(
        op("revisions", "stage", f"deployment_id={dep}", f"bundle_path={PERF}").result[
            "revision_id"
        ]
    )
    assert op("revisions", "warm", rev).code == 0
    return dep, rev


# -- traffic set weights --------------------------------------------------------------------
@pytest.mark.parametrize("weight", ["sNaN", "NaN", "1e4", "1_0000", "Infinity", "+10000", "100e0%"])
def test_traffic_weight_forms_outside_n_pct_bps_are_refused(op: Op, weight: str) -> None:
    dep, rev = _ready(op)
    err = op("traffic", "set", dep, f"{rev}={weight}").error
    assert err["kind"] == "invalid-argument"
    assert f"weight `{weight}`" in err["message"]


def test_traffic_fractional_percent_still_works(op: Op) -> None:
    dep, rev = _ready(op)
    assert op("traffic", "set", dep, f"{rev}=100.00%").result["entries"][0]["weight_bps"] == 10000


def test_traffic_entry_with_a_bad_revision_id_names_it(op: Op) -> None:
    dep, _rev = _ready(op)
    err = op("traffic", "set", dep, "NOPE=100%").error
    assert err["kind"] == "invalid-argument"
    assert "`NOPE`" in err["message"] and "mutually exclusive" not in err["message"]


def test_traffic_positional_plus_payload_key_is_still_a_mix(op: Op) -> None:
    dep, rev = _ready(op)
    err = op("traffic", "set", dep, f"{rev}=100%", "environment_id=local").error
    assert "mutually exclusive" in err["message"]


def test_traffic_to_an_archived_revision_does_not_hint_warm(op: Op) -> None:
    dep, rev = _ready(op)
    other = str(
        op("revisions", "stage", f"deployment_id={dep}", f"bundle_path={PERF}").result[
            "revision_id"
        ]
    )
    assert op("revisions", "archive", other).code == 0
    out = op("traffic", "set", dep, f"{rev}=50%", f"{other}=50%")
    assert out.error["kind"] == "conflict" and "`archived`" in out.error["message"]
    assert "revisions warm" not in out.stderr


# -- deploy ---------------------------------------------------------------------------------
def test_deploy_with_a_bad_bundle_leaves_no_deployment(
    op: Op, store_root: Path, tmp_path: Path
) -> None:
    assert op("env", "init").code == 0
    bad = tmp_path / "bad.gtbundle"
    bad.write_bytes(b"not a zip")
    before = Store(store_root).load("local")
    out = op("deploy", "bundle_id=broken", f"bundle_path={bad}")
    assert out.error["kind"] in ("spec", "invalid-argument")
    after = Store(store_root).load("local")
    assert after.bundles == before.bundles and after.revisions == before.revisions
    # and a good retry under the same bundle id is a fresh deployment, not a reused one
    ok = op("deploy", "bundle_id=broken", f"bundle_path={PERF}").result
    assert ok["reused_deployment"] is False


# -- env show honours --answers -------------------------------------------------------------
def test_env_show_reads_its_payload_from_answers(op: Op, tmp_path: Path) -> None:
    assert op("env", "init").code == 0
    assert op("env", "create", "prod").code == 0
    f = write_json(tmp_path / "show.json", {"environment_id": "prod"})
    assert op("env", "show", answers=f).result["environment"]["environment_id"] == "prod"
    bad = write_json(tmp_path / "bad.json", {"environment_id": "prod", "zzz": 1})
    err = op("env", "show", answers=bad).error
    assert err["kind"] == "answers-parse" and "zzz" in err["message"]
    missing = op("env", "show", answers=tmp_path / "nope.json").error
    assert missing["kind"] == "io" and "nope.json" in missing["message"]
    mixed = op("env", "show", "local", answers=f).error
    assert "mutually exclusive" in mixed["message"]


# -- io errors name the fix -----------------------------------------------------------------
def test_read_only_store_error_names_the_fix(
    op: Op, monkeypatch: pytest.MonkeyPatch, store_root: Path
) -> None:
    assert op("env", "init").code == 0
    lock = store_root / "local" / ".lock"

    def refuse(*_a: object, **_k: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(lock))

    import greentic.store.envstore as envstore

    monkeypatch.setattr(envstore, "env_lock", refuse)
    out = op("bundles", "add", "bundle_id=x")
    assert out.error["kind"] == "io" and str(lock) in out.error["message"]
    assert "writable" in out.hint and "--store-root" in out.hint
    assert "--debug" not in out.hint


def test_answers_file_that_is_not_utf8_is_a_parse_error(op: Op, tmp_path: Path) -> None:
    f = tmp_path / "m.json"
    f.write_bytes(b"\xff\xfe{}")
    err = op("env", "apply", answers=f).error
    assert err["kind"] == "answers-parse" and "m.json" in err["message"]
    assert "UTF-8" in err["message"]


# -- env apply refuses before step 1 what step 5 would refuse -------------------------------
def test_apply_secrets_into_env_without_secrets_slot_changes_nothing(
    op: Op, store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.seeds import seed_manifest, write_declarative

    monkeypatch.setenv("TELEGRAM_DEMO_BOT_TOKEN", "tok-never-shown")
    assert op("env", "create", "prod").code == 0
    manifest = seed_manifest()
    manifest["environment"]["id"] = "prod"
    manifest["packs"] = manifest["packs"][:1]  # deployer only: no secrets slot anywhere
    manifest["bundles"][0]["customer_id"] = "acme"
    before = (store_root / "prod" / "environment.json").read_bytes()
    out = op("env", "apply", "--yes", answers=write_declarative(tmp_path, manifest))
    assert out.error["kind"] == "conflict" and "no secrets env-pack" in out.error["message"]
    assert (store_root / "prod" / "environment.json").read_bytes() == before
    assert not (store_root / "prod" / "trust-root.json").exists()
    assert "tok-never-shown" not in out.stdout + out.stderr


# -- env render carries upstream's result fields --------------------------------------------
def test_env_render_result_has_upstream_fields(op: Op, tmp_path: Path) -> None:
    assert op("env", "init").code == 0
    answers = write_json(tmp_path / "deployer-answers.json", {"runtime_image": "r:1"})
    bound = op(
        "env-packs",
        "add",
        "slot=deployer",
        "kind=greentic.deployer.k8s@1.0.0",
        "pack_ref=builtin",
        f"answers_ref={answers}",
    )
    assert bound.code == 0
    out = op("env", "render", "local").result
    assert out["environment_id"] == "local"
    assert out["kind"] == "greentic.deployer.k8s@1.0.0"
    assert out["answers_ref"] == "env-packs/deployer/answers.json"
    assert out["object_count"] == out["count"] == len(out["objects"])


# -- deployer answers fail at bind time, not first at render --------------------------------
@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        ({"colour": "green"}, "unknown answer key `colour`"),
        ({"router_replicas": 1}, "router_replicas must be >= 2 (HA requirement), got 1"),
        ({"tunnel": "ngrok"}, "tunnel"),
    ],
)
def test_env_packs_add_refuses_bad_k8s_answers_and_stages_nothing(
    op: Op, store_root: Path, tmp_path: Path, answers: dict[str, object], reason: str
) -> None:
    assert op("env", "init").code == 0
    before = (store_root / "local" / "environment.json").read_bytes()
    bad = write_json(tmp_path / "deployer-answers.json", answers)
    err = op(
        "env-packs", "add", "slot=deployer", "kind=greentic.deployer.k8s@1.0.0",
        "pack_ref=builtin", f"answers_ref={bad}",
    ).error  # fmt: skip
    assert err["kind"] == "conflict" and reason in err["message"]
    assert "deployer-answers.json" in err["message"]
    assert (store_root / "local" / "environment.json").read_bytes() == before
    assert not (store_root / "local" / "env-packs" / "deployer").exists()


def test_env_apply_refuses_bad_k8s_answers_before_any_step(
    op: Op, store_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.seeds import seed_manifest, write_declarative

    monkeypatch.setenv("TELEGRAM_DEMO_BOT_TOKEN", "tok")
    path = write_declarative(tmp_path, seed_manifest())
    write_json(path.parent / "deployer-answers.json", {"router_replicas": 1})
    err = op("env", "apply", "--yes", answers=path).error
    assert err["kind"] == "conflict" and "router_replicas must be >= 2" in err["message"]
    assert "slot `deployer`" in err["message"]
    assert not (store_root / "local").exists()


# -- a corrupt store file names the file and what to do --------------------------------------
@pytest.mark.parametrize("content", [b"{not json", b'{"schema": "greentic.environment.v1"}\n'])
def test_corrupt_environment_json_names_the_file_and_the_fix(
    op: Op, store_root: Path, content: bytes
) -> None:
    assert op("env", "init").code == 0
    (store_root / "local" / "environment.json").write_bytes(content)
    out = op("env", "show", "local")
    assert "environment.json" in out.error["message"]
    assert out.hint.startswith("environment.json is written only by `gtc op` verbs")
    assert "Traceback" not in out.stderr
