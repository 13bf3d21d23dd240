"""Twenty concurrent `op` mutations on one env (separate processes) lose no update."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from op_support import GTC, gtc


def test_twenty_concurrent_mutations(tmp_path: Path) -> None:
    store = tmp_path / "S"
    env = {**os.environ, "GTC_OPERATOR_KEY_PATH": str(tmp_path / "k.pem")}
    assert gtc(store, "env", "init", env=env).code == 0
    head = [str(GTC), "op", "--store-root", str(store)]
    commands = [[*head, "bundles", "add", f"bundle_id=b{i}"] for i in range(10)] + [
        [
            *head,
            "messaging",
            "endpoint",
            "add",
            f"name=e{i}",
            "provider_type=messaging.telegram.bot",
        ]
        for i in range(10)
    ]
    procs = [
        subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        for cmd in commands
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, [o[1] for o in outs]
    doc = json.loads((store / "local" / "environment.json").read_text())
    assert sorted(b["bundle_id"] for b in doc["bundles"]) == sorted(f"b{i}" for i in range(10))
    assert sorted(e["display_name"] for e in doc["messaging_endpoints"]) == sorted(
        f"e{i}" for i in range(10)
    )
    secrets = gtc(store, "env", "show", env=env)  # still loads and validates
    assert secrets.code == 0
    from greentic.secrets import DevStore

    dev = DevStore(store / "local" / ".greentic" / "dev" / ".dev.secrets.env")
    assert len([u for u in dev.list() if u.endswith("/webhook_secret")]) == 10
    audit = (store / "local" / "audit" / "events.jsonl").read_text().splitlines()
    assert (
        sum(json.loads(a)["verb"] in ("bundles.add", "messaging.endpoint.add") for a in audit) == 20
    )
    leftovers = [p.name for p in (store / "local").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
