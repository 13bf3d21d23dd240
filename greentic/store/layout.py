"""Where things live in the store (SPEC §2): pure path arithmetic, no I/O."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from greentic.errors import InvalidArgument
from greentic.spec.rules import check_env_id

ENV_FILE = "environment.json"
RUNTIME_CONFIG_FILE = "runtime-config.json"
TRUST_ROOT_FILE = "trust-root.json"
DEV_SECRETS_REL = ".greentic/dev/.dev.secrets.env"
AUDIT_REL = "audit/events.jsonl"


def default_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--store-root`, else `$GREENTIC_STORE_ROOT`, else `$HOME/.greentic/environments`."""
    if explicit:
        return Path(explicit)
    env_root = os.environ.get("GREENTIC_STORE_ROOT")
    if env_root:
        return Path(env_root)
    home = os.environ.get("HOME")
    if not home:
        raise InvalidArgument("no --store-root and HOME not set; pass --store-root DIR")
    return Path(home) / ".greentic" / "environments"


def valid_env_id(env_id: str) -> str:
    """The env id, or an InvalidArgument naming the rule it breaks."""
    try:
        return check_env_id(env_id)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None


@dataclass(frozen=True)
class EnvPaths:
    """Every path of one environment directory."""

    root: Path
    env_id: str

    @property
    def dir(self) -> Path:
        return self.root / self.env_id

    @property
    def environment(self) -> Path:
        return self.dir / ENV_FILE

    @property
    def runtime_config(self) -> Path:
        return self.dir / RUNTIME_CONFIG_FILE

    @property
    def trust_root(self) -> Path:
        return self.dir / TRUST_ROOT_FILE

    @property
    def dev_secrets(self) -> Path:
        return self.dir / DEV_SECRETS_REL

    @property
    def audit(self) -> Path:
        return self.dir / AUDIT_REL

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    def revision_dir(self, revision_id: str) -> Path:
        return self.dir / "revisions" / revision_id

    def pack_answers(self, slot: str) -> Path:
        return self.dir / "env-packs" / slot / "answers.json"


def env_paths(root: Path, env_id: str) -> EnvPaths:
    """Paths of env `env_id` under `root`, after validating the id."""
    return EnvPaths(root=root, env_id=valid_env_id(env_id))


def pack_list_lock_ref(revision_id: str) -> str:
    """Env-relative ref of a revision's pack-list.lock."""
    return f"revisions/{revision_id}/pack-list.lock"
