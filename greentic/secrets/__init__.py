"""Secrets: the dev-store (AES-256-GCM sealed values in `<env>/.greentic/dev/.dev.secrets.env`)
and the secret path/URI rules. Written by `op secrets put`, `env apply` and
`messaging endpoint add`; read by the worker (`secret://<env>/<path>`)."""

from __future__ import annotations

from greentic.secrets.devstore import DevStore
from greentic.secrets.paths import secret_uri, validate_secret_path

__all__ = ["DevStore", "secret_uri", "validate_secret_path"]
