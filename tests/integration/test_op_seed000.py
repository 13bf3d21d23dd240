"""seeds/000: `TELEGRAM_DEMO_BOT_TOKEN=x gtc op --answers k8s.env.json env apply --yes` through
the real console script; the token ends up only inside the encrypted dev-store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from op_support import GTC, gtc

from greentic.secrets import DevStore
from tests.support.seeds import (
    DEPLOYER_ANSWERS,
    DIGEST,
    TOKEN_PATH,
    URI,
    seed_manifest,
    write_declarative,
)

TOKEN = "x-telegram-token-7f3a9c"


@pytest.fixture
def declarative(tmp_path: Path) -> Path:
    return write_declarative(tmp_path, seed_manifest()).parent


def test_console_script_is_installed() -> None:
    assert GTC.is_file(), "reinstall: .venv/bin/pip install -e . --no-deps"


def test_seed_000_manifest_pair_applies(declarative: Path, tmp_path: Path) -> None:
    store = tmp_path / "S"
    env = {"TELEGRAM_DEMO_BOT_TOKEN": TOKEN, "GTC_OPERATOR_KEY_PATH": str(tmp_path / "k.pem")}
    applied = gtc(store, "env", "apply", "--yes", answers=declarative / "k8s.env.json", env=env)
    report = applied.result
    assert report["changed"] == 9
    assert "plan (9 step(s))" in applied.stderr

    shown = gtc(store, "env", "show", "local", env=env)
    doc = shown.result["environment"]
    deployer = next(p for p in doc["packs"] if p["slot"] == "deployer")
    assert deployer["kind"] == "greentic.deployer.k8s@1.0.0"
    assert deployer["answers_ref"] == "env-packs/deployer/answers.json"
    assert json.loads((store / "local" / deployer["answers_ref"]).read_text()) == DEPLOYER_ANSWERS
    (bundle,) = doc["bundles"]
    assert bundle["bundle_id"] == "webchat-bot"
    assert bundle["route_binding"]["path_prefixes"] == ["/"]
    (split,) = doc["traffic_splits"]
    assert split["entries"][0]["weight_bps"] == 10000
    rev = next(
        r for r in doc["revisions"] if r["revision_id"] == split["entries"][0]["revision_id"]
    )
    assert (rev["bundle_digest"], rev["bundle_source_uri"], rev["lifecycle"]) == (
        DIGEST,
        URI,
        "ready",
    )
    (endpoint,) = doc["messaging_endpoints"]
    assert endpoint["provider_type"] == "messaging.telegram.bot"
    assert endpoint["linked_bundles"] == ["webchat-bot"]
    assert shown.result["runtime"]["revisions"][0]["weight_bps"] == 10000

    # the token: only inside the sealed dev-store, never in any file or output
    dev = store / "local" / ".greentic" / "dev" / ".dev.secrets.env"
    os.environ["GREENTIC_DEV_MASTER_KEY"] = ""
    assert DevStore(dev).get(f"secret://local/{TOKEN_PATH}") == TOKEN
    for f in store.rglob("*"):
        if f.is_file():
            assert TOKEN.encode() not in f.read_bytes(), f
    for out in (applied.stdout, applied.stderr, shown.stdout, shown.stderr):
        assert TOKEN not in out

    again = gtc(store, "env", "apply", "--yes", answers=declarative / "k8s.env.json", env=env)
    assert again.result["changed"] == 0
    assert {s["action"] for s in again.result["steps"]} == {"no-op"}
    check = gtc(store, "env", "apply", "--check", answers=declarative / "k8s.env.json", env=env)
    assert check.result["changed"] == 0
