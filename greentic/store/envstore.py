"""Load and save environments: the read/modify/write cycle every `op` verb goes through.

`Store.mutate(env_id, verb=…)` holds the env lock, loads environment.json, yields the model,
validates it, writes it atomically, re-projects runtime-config.json (deleted when nothing is
routed) and appends an audit line. The worker and the renderer only read. Store files are
read and appended without following symlinks (`files.read_regular`, O_NOFOLLOW).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from greentic.errors import SpecError, StoreError
from greentic.spec import runtime_config
from greentic.spec.base import now_rfc3339
from greentic.spec.environment import Environment
from greentic.spec.runtime_config import RuntimeConfig
from greentic.store import atomic, ids
from greentic.store.files import open_regular, private_dirs, read_regular
from greentic.store.layout import EnvPaths, default_root, env_paths
from greentic.store.lock import env_lock
from greentic.store.reading import (
    check_dir_name,
    env_not_found,
    read_json,
    spec_errors,
    spec_message,
)


def parse_environment(doc: Any, *, path: Path, env_id: str | None = None) -> Environment:
    """Validate an environment.json document (model + cross rules + dir name)."""
    with spec_errors(path):
        env = Environment.model_validate(doc)
        env.check()
    check_dir_name(env.environment_id, path, env_id)
    return env


class Store:
    """A store root. Example: `Store.at(None).load("local")`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def at(cls, root: str | os.PathLike[str] | None) -> Store:
        """The store at `--store-root`, `$GREENTIC_STORE_ROOT` or the default."""
        return cls(default_root(root))

    def paths(self, env_id: str) -> EnvPaths:
        return env_paths(self.root, env_id)

    def exists(self, env_id: str) -> bool:
        return self.paths(env_id).environment.is_file()

    def list(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "environment.json").is_file())

    def load(self, env_id: str) -> Environment:
        """Load and validate `<root>/<env>/environment.json`."""
        p = self.paths(env_id)
        try:
            doc = read_json(p.environment)
        except FileNotFoundError:
            raise env_not_found(env_id, self.root) from None
        return parse_environment(doc, path=p.environment, env_id=env_id)

    def load_runtime_config(self, env_id: str) -> RuntimeConfig | None:
        """runtime-config.json, or None when absent (nothing routed / pod cold state)."""
        p = self.paths(env_id)
        try:
            doc = read_json(p.runtime_config)
        except FileNotFoundError:
            return None
        with spec_errors(p.runtime_config):
            rc = RuntimeConfig.model_validate(doc)
            rc.check(env_id, p.dir)
        return rc

    # -- writes ---------------------------------------------------------------------------
    def save(self, env: Environment) -> None:
        """Validate and write environment.json + its runtime-config projection (lock held)."""
        p = self.paths(env.environment_id)
        try:
            env.check()
        except ValueError as exc:
            raise SpecError(str(exc)) from None
        atomic.write_json(p.environment, env.to_json_dict(), under=p.dir)
        self.write_runtime_config(env)

    def write_runtime_config(self, env: Environment) -> None:
        """Rewrite runtime-config.json only when it changes; delete it when nothing is routed."""
        p = self.paths(env.environment_id)
        rc = runtime_config.project(env)
        if not rc.revisions:
            atomic.remove(p.runtime_config)
            return
        data = atomic.pretty_json(rc.to_json_dict())
        try:
            if read_regular(p.runtime_config, what="store file") == data:
                return
        except (FileNotFoundError, StoreError):
            pass  # absent, or a symlink/non-file: the atomic rename replaces it
        atomic.write_bytes(p.runtime_config, data, under=p.dir)

    @contextmanager
    def locked(self, env_id: str) -> Iterator[EnvPaths]:
        """Hold the env lock without loading (for file-level mutations like materialize)."""
        p = self.paths(env_id)
        with env_lock(p.dir):
            yield p

    @contextmanager
    def create(self, env: Environment, *, verb: str) -> Iterator[Environment]:
        """Create a new env dir; fails with a conflict-free StoreError if it already exists."""
        p = self.paths(env.environment_id)
        with env_lock(p.dir):
            if p.environment.exists():
                from greentic.errors import Conflict

                raise Conflict(f"environment `{env.environment_id}` already exists at {p.dir}")
            yield env
            self.save(env)
            self.audit(env.environment_id, verb=verb)

    @contextmanager
    def mutate(
        self, env_id: str, *, verb: str, idempotency_key: str | None = None
    ) -> Iterator[Environment]:
        """Lock → load → yield for in-place edits → validate → atomic write → audit."""
        p = self.paths(env_id)
        if not p.environment.is_file():
            self.load(env_id)  # raises the NotFound with its hint
        with env_lock(p.dir):
            env = self.load(env_id)
            yield env
            try:
                env = Environment.model_validate(env.to_json_dict())
            except ValidationError as exc:
                raise SpecError(spec_message(exc)) from None
            self.save(env)
            self.audit(env_id, verb=verb, idempotency_key=idempotency_key)

    def audit(self, env_id: str, *, verb: str, idempotency_key: str | None = None) -> None:
        """Append one audit line (caller holds the lock): who, verb, idempotency key, time."""
        p = self.paths(env_id)
        private_dirs(p.audit.parent, under=p.dir)
        event = {
            "event_id": ids.new_ulid(),
            "at": now_rfc3339(),
            "actor": os.environ.get("USER") or f"uid:{os.getuid()}",
            "verb": verb,
            "env_id": env_id,
            "idempotency_key": idempotency_key,
        }
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        fd = open_regular(p.audit, what="audit log", flags=flags)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(event, separators=(",", ":")) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
