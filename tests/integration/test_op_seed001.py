"""seeds/001 §04, verb by verb through the real console script: env create, trust-root
bootstrap, bundles add, revisions stage (bundle_path + bundle_source_uri), warm, traffic set,
env-packs add — ending in the same kind of state as the seeds/000 apply."""

from __future__ import annotations

import json
from pathlib import Path

from op_support import FIXTURES, gtc

from greentic.bundle.digest import sha256_file


def test_seed_001_sequence(tmp_path: Path) -> None:
    store = tmp_path / "S"
    env = {"GTC_OPERATOR_KEY_PATH": str(tmp_path / "op" / "key.pem")}
    bundle = FIXTURES / "perf-smoke.gtbundle"
    source = "http://127.0.0.1:8090/bundle.gtbundle"

    created = gtc(store, "env", "create", "local", "--name", "local", env=env).result
    assert created["environment_id"] == "local"
    trust = gtc(store, "trust-root", "bootstrap", "local", env=env).result
    assert trust["trusted_key_count"] == 1
    dep = gtc(
        store,
        "bundles",
        "add",
        "bundle_id=perf-smoke",
        'route_binding.path_prefixes=["/"]',
        env=env,
    ).result["deployment_id"]
    rev = gtc(
        store,
        "revisions",
        "stage",
        f"deployment_id={dep}",
        f"bundle_path={bundle}",
        f"bundle_source_uri={source}",
        env=env,
    ).result["revision_id"]
    assert gtc(store, "revisions", "warm", rev, env=env).result["lifecycle"] == "ready"
    split = gtc(store, "traffic", "set", dep, f"{rev}=10000", env=env).result
    assert split["entries"] == [{"revision_id": rev, "weight_bps": 10000}]
    (tmp_path / "deployer-answers.json").write_text('{"runtime_image": "r:1", "tunnel": "off"}')
    bound = gtc(
        store,
        "env-packs",
        "add",
        "slot=deployer",
        "kind=greentic.deployer.k8s@1.0.0",
        "pack_ref=builtin",
        "answers_ref=deployer-answers.json",
        env=env,
        cwd=tmp_path,
    ).result
    assert bound["answers_ref"] == "env-packs/deployer/answers.json"

    doc = gtc(store, "env", "show", "local", env=env).result
    environment = doc["environment"]
    (revision,) = environment["revisions"]
    assert revision["bundle_digest"] == sha256_file(bundle)
    assert revision["bundle_source_uri"] == source
    assert revision["lifecycle"] == "ready"
    assert environment["packs"][0]["kind"] == "greentic.deployer.k8s@1.0.0"
    assert doc["runtime"]["revisions"] == [
        {
            "deployment_id": dep,
            "revision_id": rev,
            "bundle_id": "perf-smoke",
            "pack_list_refs": [f"revisions/{rev}/pack-list.lock"],
            "pack_config_refs": revision["pack_config_refs"],
            "weight_bps": 10000,
        }
    ]
    audit = (store / "local" / "audit" / "events.jsonl").read_text().splitlines()
    assert len(audit) >= 7 and all(json.loads(line)["env_id"] == "local" for line in audit)
