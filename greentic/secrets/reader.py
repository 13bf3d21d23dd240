"""The worker's read-only view of the env's dev-store (SPEC §3, reference worker §7).

Location: `$GREENTIC_DEV_SECRETS_PATH` if that file exists, else the first existing of
`<env_dir>/.greentic/dev/.dev.secrets.env` and `<env_dir>/.greentic/state/dev/.dev.secrets.env`,
else the first (created by the open, as upstream). Every read re-opens the file under flock
(DevStore does), so a rotated value is seen without a restart and a read-only mount fails loudly.
Writes are refused. Each value read is reported to `on_value` so the caller can redact it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from greentic.errors import Conflict, InvalidArgument
from greentic.secrets.devstore import DevStore
from greentic.secrets.paths import canonical_uri

PATH_ENV = "GREENTIC_DEV_SECRETS_PATH"
CANDIDATES = (".greentic/dev/.dev.secrets.env", ".greentic/state/dev/.dev.secrets.env")
READ_ONLY = "dev secrets store is read-only"


def locate(env_dir: Path, environ: Mapping[str, str]) -> Path:
    """The dev-store file the worker reads (see the module docstring)."""
    explicit = environ.get(PATH_ENV, "").strip()
    if explicit and Path(explicit).is_file():
        return Path(explicit)
    for rel in CANDIDATES:
        if (env_dir / rel).is_file():
            return env_dir / rel
    return env_dir / CANDIDATES[0]


class SecretsReader:
    """Example: `SecretsReader(locate(env_dir, os.environ)).get("secret://local/t/_/c/n")`."""

    def __init__(self, path: Path, *, on_value: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._store = DevStore(path)
        self._on_value = on_value

    def check(self) -> None:
        """Open the file as every read will (raises IoError on a read-only mount)."""
        self._store.list()

    def get(self, ref: str) -> str | None:
        """The value of `secret://<env>/<path>` (or `secrets://…`), None when absent."""
        try:
            uri = canonical_uri(ref)
        except InvalidArgument:
            return None
        value = self._store.get(uri)
        if value is not None and self._on_value is not None:
            self._on_value(value)
        return value

    def put(self, ref: str, value: str) -> None:
        """Refused: the worker never writes secrets."""
        raise Conflict(READ_ONLY, hint="write secrets with `gtc op secrets put` on the operator")

    def delete(self, ref: str) -> None:
        """Refused: the worker never deletes secrets."""
        raise Conflict(READ_ONLY, hint="manage secrets with `gtc op secrets` on the operator")


def from_env_dir(
    env_dir: Path, *, environ: Mapping[str, str] | None = None, on_value: Callable[[str], None]
) -> SecretsReader:
    """The reader of an env dir, located per the module docstring."""
    return SecretsReader(
        locate(env_dir, os.environ if environ is None else environ), on_value=on_value
    )
