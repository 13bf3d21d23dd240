"""Reading store files: JSON parsing, error texts, and the read-only `env show` (no pydantic).

`Store.load` (envstore) and `show` here read the same files through the same `read_json`,
turn a broken document into the same SpecError (`spec_errors`) and run the same
cross-document rules (`greentic.spec.rules`). `show` validates with the compiled validators
of `greentic.spec.documents` (pydantic-core alone: the models' own schemas, same verdicts and
messages), so a read-only `gtc op env show` never imports pydantic (#16). The store is input:
nothing read here is trusted before it is validated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greentic.errors import NotFound, SpecError, StoreError
from greentic.store.files import read_regular
from greentic.store.layout import env_paths

if TYPE_CHECKING:
    from pydantic_core import ValidationError


def spec_message(exc: ValidationError) -> str:
    """First pydantic error as one line: `field.path: message`."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = f"unknown key `{err['loc'][-1]}`"
    return f"{loc}: {msg}" if loc else msg


def repair_hint(path: Path) -> str:
    """What to do about a store file that no longer parses or validates."""
    return (
        f"{path.name} is written only by `gtc op` verbs: undo any hand edit or restore the file "
        "from a backup, then check it with `gtc op env show <id>` (a pod's copy comes from the "
        "gtc-env-store ConfigMap: fix the store and run `gtc op env reconcile <id>`)"
    )


def read_json(path: Path) -> Any:
    """Parse a JSON store file (no symlink, regular file); a bad file is a StoreError naming it."""
    try:
        return json.loads(read_regular(path, what="store file"))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise StoreError(f"cannot read {path}: {exc}", hint=repair_hint(path)) from None


@contextmanager
def spec_errors(path: Path) -> Iterator[None]:
    """A document that breaks its schema or a cross-document rule → SpecError naming `path`."""
    from pydantic_core import ValidationError

    try:
        yield
    except ValidationError as exc:  # a ValueError too: caught first
        raise SpecError(f"{path}: {spec_message(exc)}", hint=repair_hint(path)) from None
    except ValueError as exc:
        raise SpecError(f"{path}: {exc}", hint=repair_hint(path)) from None


def env_not_found(env_id: str, root: Path) -> NotFound:
    return NotFound(
        f"environment `{env_id}` not found under {root}",
        hint=f"create it with `gtc op env create {env_id}` (or `env init` for `local`)",
    )


def check_dir_name(found: str, path: Path, env_id: str | None) -> None:
    """environment.json must name the directory it sits in."""
    if env_id is not None and found != env_id:
        raise SpecError(
            f"{path}: environment_id `{found}` does not match directory `{env_id}`",
            hint=repair_hint(path),
        )


def show(root: Path, env_id: str) -> dict[str, Any]:
    """`{environment, runtime}` of env `env_id`: both documents validated as `Store.load` and
    `Store.load_runtime_config` validate them, in their `to_json_dict()` form (runtime null
    when there is no runtime-config.json)."""
    from greentic.spec import rules
    from greentic.spec.documents import document

    p = env_paths(root, env_id)
    try:
        doc = read_json(p.environment)
    except FileNotFoundError:
        raise env_not_found(env_id, root) from None
    environment = document("environment")
    with spec_errors(p.environment):
        env = environment.validate(doc)
        rules.check_environment(env)
    check_dir_name(env["environment_id"], p.environment, env_id)
    try:
        rc_doc = read_json(p.runtime_config)
    except FileNotFoundError:
        return {"environment": environment.dump(env), "runtime": None}
    runtime_config = document("runtime_config")
    with spec_errors(p.runtime_config):
        rc = runtime_config.validate(rc_doc)
        rules.check_runtime_config(rc, env_id, p.dir)
    return {"environment": environment.dump(env), "runtime": runtime_config.dump(rc)}
