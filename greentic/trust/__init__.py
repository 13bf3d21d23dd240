"""Operator trust: the operator's Ed25519 key (`operator_key`) and an env's trust-root.json.

`trust-root bootstrap` and `env init` add the operator key to an env; pack signing and
verification (greentic.bundle) use `operator_key(create=…)` and `load_trust_root(path)`.
"""

from __future__ import annotations

from greentic.trust.operator_key import key_id_for, operator_key, operator_key_path
from greentic.trust.trust_root import add_key, load_trust_root, operator_trust_key

__all__ = [
    "add_key",
    "key_id_for",
    "load_trust_root",
    "operator_key",
    "operator_key_path",
    "operator_trust_key",
]
