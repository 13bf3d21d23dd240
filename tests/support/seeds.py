"""seeds/000's env-manifest pair (`k8s.env.json` + `deployer-answers.json`), bundle on loopback.

`seed_manifest()` returns a fresh copy each call (tests mutate it); `write_declarative` lays
the pair out the way the seed does, as `<dir>/declarative/`. Used by the `env apply` unit
tests and the console-script integration test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

URI = "oci://127.0.0.1:5000/greentic/webchat-bot:v1"
DIGEST = "sha256:4f560749ec709e75b6063cdeccab15ed5074c2e60bc5f772c2d3b7d4bd992363"
TOKEN_PATH = "tenant-default/_/messaging-telegram/telegram_bot_token"
DEPLOYER_ANSWERS = {
    "runtime_image": "ghcr.io/greenticai/greentic-start-distroless:develop",
    "tunnel": "cloudflared",
}


def seed_manifest() -> dict[str, Any]:
    """seeds/000's k8s.env.json, with the bundle moved to a loopback registry."""
    return {
        "schema": "greentic.env-manifest.v1",
        "environment": {"id": "local", "name": "k8s", "gui_enabled": True},
        "trust_root": "bootstrap",
        "packs": [
            {
                "slot": "deployer",
                "kind": "greentic.deployer.k8s@1.0.0",
                "pack_ref": "builtin",
                "answers_ref": "deployer-answers.json",
            },
            {"slot": "secrets", "kind": "greentic.secrets.dev-store@1.0.0", "pack_ref": "builtin"},
        ],
        "bundles": [
            {
                "bundle_id": "webchat-bot",
                "bundle_source_uri": URI,
                "bundle_digest": DIGEST,
                "route_binding": {
                    "hosts": [],
                    "path_prefixes": ["/"],
                    "tenant_selector": {"tenant": "tenant-default", "team": "default"},
                },
            }
        ],
        "secrets": [{"path": TOKEN_PATH, "from_env": "TELEGRAM_DEMO_BOT_TOKEN"}],
        "messaging_endpoints": [
            {
                "name": "webchat-bot",
                "provider_type": "messaging.telegram.bot",
                "links": ["webchat-bot"],
            }
        ],
    }


def write_declarative(parent: Path, manifest: dict[str, Any]) -> Path:
    """Write `manifest` and the deployer answers into `parent/declarative/`; the manifest's path."""
    d = parent / "declarative"
    d.mkdir(exist_ok=True)
    (d / "deployer-answers.json").write_text(json.dumps(DEPLOYER_ANSWERS, indent=2))
    path = d / "k8s.env.json"
    path.write_text(json.dumps(manifest, indent=2))
    return path
