"""`env-packs add`: bind a pack to an env slot; its answers are staged inside the env.

The answers file named by `answers_ref` (relative to the payload's base dir: the answers
file's dir or the cwd; an env-relative path also works) is read (bounded: see answers_file),
checked against the pack's schema where there is one (the k8s deployer's), and only then
copied to `env-packs/<slot>/answers.json` (0600); the binding records that env-relative path.
A path named inside a payload file must stay in that file's directory (or the env dir) unless
`allow_outside`. Re-adding the same binding is a no-op; a changed one bumps `generation`.
`env apply` calls `bind_staged`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import field_validator

from greentic.deployer.answers_file import confine, load_mapping
from greentic.deployer.common import EnvPayload
from greentic.errors import StoreError
from greentic.spec.environment import SLOTS, EnvPackBinding
from greentic.store import atomic
from greentic.store.envstore import Store
from greentic.store.files import read_regular

KIND_RE = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+@[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$")
N_PER_ENV = ("messaging", "extension")


class EnvPackAddPayload(EnvPayload):
    """`{environment_id, slot, kind, pack_ref, answers_ref?, idempotency_key?}`."""

    slot: str
    kind: str
    pack_ref: str
    answers_ref: str | None = None
    idempotency_key: str | None = None

    @field_validator("slot")
    @classmethod
    def _slot(cls, v: str) -> str:
        if v in N_PER_ENV:
            raise ValueError(
                f"slot `{v}` is N-per-env and is not bound via `op env-packs`; "
                "use `op messaging endpoint` instead"
            )
        if v not in SLOTS:
            raise ValueError(f"slot `{v}` is not one of {', '.join(SLOTS)}")
        return v

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if not KIND_RE.match(v):
            raise ValueError(
                f"kind `{v}` must be `<path>@<semver>`, e.g. greentic.deployer.k8s@1.0.0"
            )
        return v

    @field_validator("pack_ref")
    @classmethod
    def _ref(cls, v: str) -> str:
        if not v:
            raise ValueError("pack_ref must not be empty")
        return v


def staged_ref(slot: str) -> str:
    """The env-relative path a slot's answers are staged at."""
    return f"env-packs/{slot}/answers.json"


def read_answers(path: Path) -> bytes:
    """The answers file as canonical pretty JSON (JSON or YAML object in, JSON out)."""
    return atomic.pretty_json(load_mapping(path, what="pack answers file"))


def resolve_answers(
    ref: str, *, base_dir: Path, env_dir: Path, allow_outside: bool = False
) -> Path:
    """Where `answers_ref` points: env-relative if such a file exists inside the env dir, else
    base-relative (or absolute), confined to `base_dir` or the env dir unless `allow_outside`."""
    given = Path(ref)
    inside = env_dir / given
    env_relative = not given.is_absolute() and inside.is_file()
    if env_relative and inside.resolve().is_relative_to(env_dir.resolve()):
        return inside
    return confine(
        ref,
        base=base_dir,
        also=env_dir,
        what="answers_ref",
        verb="gtc op env-packs add",
        allow_outside=allow_outside,
    )


def binding_changes(
    old: EnvPackBinding | None, new: EnvPackBinding, staged: bytes | None, current: bytes | None
) -> bool:
    """Whether binding `new` (with staged answers bytes) differs from `old` + current bytes."""
    if old is None:
        return True
    same = (old.kind, old.pack_ref, old.answers_ref) == (new.kind, new.pack_ref, new.answers_ref)
    return not same or staged != current


def bind_staged(
    store: Store,
    env_id: str,
    *,
    slot: str,
    kind: str,
    pack_ref: str,
    staged: bytes | None,
    verb: str = "env-packs.add",
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Upsert the slot's binding with answers bytes `staged`; bump generation on change."""
    paths = store.paths(env_id)
    target = paths.pack_answers(slot)
    with store.mutate(env_id, verb=verb, idempotency_key=idempotency_key) as env:
        old = env.pack(slot)
        try:
            current = read_regular(target, what="staged answers") if staged is not None else None
        except (FileNotFoundError, StoreError):
            current = None  # absent, or a symlink/non-file that the atomic rename replaces
        new = EnvPackBinding(
            slot=slot,
            kind=kind,
            pack_ref=pack_ref,
            answers_ref=staged_ref(slot) if staged is not None else None,
            generation=0 if old is None else old.generation,
        )
        changed = binding_changes(old, new, staged, current)
        if changed and old is not None:
            new.generation = old.generation + 1
        if staged is not None and staged != current:
            atomic.write_bytes(target, staged, under=paths.dir)
        if old is None:
            env.packs.append(new)
        elif changed:
            env.packs[env.packs.index(old)] = new
    return {
        "environment_id": env_id,
        "slot": new.slot,
        "kind": new.kind,
        "pack_ref": new.pack_ref,
        "answers_ref": new.answers_ref,
        "generation": new.generation,
        "has_previous": old is not None,
        "changed": changed,
    }


def check_answers(kind: str, staged: bytes | None, *, what: str) -> None:
    """Fail fast on answers the bound pack will refuse: a Kubernetes deployer binding's
    answers are parsed now (unknown key, router_replicas < 2, bad image…), not first at
    `env render`, so nothing bad is ever staged."""
    from greentic.deployer.k8s import answers, bindings
    from greentic.deployer.k8s.errors import InvalidAnswers

    if staged is None or bindings.split_kind(kind)[0] != bindings.K8S_DEPLOYER:
        return
    try:
        answers.parse(json.loads(staged))
    except InvalidAnswers as exc:
        raise InvalidAnswers(f"{exc.reason} (in {what})", hint=exc.hint) from None


def bind(
    store: Store, p: EnvPackAddPayload, *, base_dir: Path, allow_outside: bool = False
) -> dict[str, Any]:
    """`env-packs add`: read the answers file (if any), check it, and upsert the binding."""
    store.load(p.environment_id)
    staged: bytes | None = None
    if p.answers_ref:
        env_dir = store.paths(p.environment_id).dir
        path = resolve_answers(
            p.answers_ref, base_dir=base_dir, env_dir=env_dir, allow_outside=allow_outside
        )
        staged = read_answers(path)
        check_answers(p.kind, staged, what=f"answers_ref `{p.answers_ref}`")
    return bind_staged(
        store,
        p.environment_id,
        slot=p.slot,
        kind=p.kind,
        pack_ref=p.pack_ref,
        staged=staged,
        idempotency_key=p.idempotency_key,
    )
