"""An env's trust-root.json: load (missing file = empty), add a key (same key_id replaced).

Writes are atomic; callers that mutate hold the env lock (`Store.locked`). Engineer B's pack
verification reads `load_trust_root(path)`; `trust-root bootstrap` and `env init` add keys.
"""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from greentic.errors import TrustRootError
from greentic.spec.trust_root import TrustKey, TrustRoot
from greentic.store import atomic
from greentic.store.files import read_regular
from greentic.trust.operator_key import key_id_for, public_pem


def load(path: Path) -> TrustRoot:
    """The trust root at `path`; a missing file is an empty one (which trusts nothing)."""
    try:
        doc = json.loads(read_regular(path, what="trust root", error=TrustRootError))
    except FileNotFoundError:
        return TrustRoot()
    except (OSError, ValueError) as exc:
        raise TrustRootError(f"trust root: cannot read {path}: {exc}") from None
    try:
        return TrustRoot.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise TrustRootError(f"trust root: {path}: {loc}: {err['msg']}") from None


def load_trust_root(path: Path) -> list[TrustKey]:
    """The trusted keys of the trust-root.json at `path` (empty when the file is absent)."""
    return list(load(path).keys)


def operator_trust_key(key: Ed25519PrivateKey) -> TrustKey:
    """The trust-root entry of an operator key."""
    pub = key.public_key()
    return TrustKey(key_id=key_id_for(pub), public_key_pem=public_pem(pub))


def add_key(path: Path, key: TrustKey) -> TrustRoot:
    """Add `key` (replacing the same key_id) and write the file atomically when it changed."""
    current = load(path)
    updated = current.with_key(key)
    if not path.exists() or updated.to_json_dict() != current.to_json_dict():
        atomic.write_json(path, updated.to_json_dict())
    return updated
