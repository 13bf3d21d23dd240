"""Operator key (0600 PKCS#8 + 0644 SPKI .pub) and trust-root.json add/list/load."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from greentic import trust
from greentic.errors import TrustRootError
from greentic.spec.trust_root import TrustKey
from greentic.trust import add_key, key_id_for, load_trust_root, operator_trust_key


def test_created_once_with_modes(operator_key: Path) -> None:
    key = trust.operator_key(create=True)
    assert operator_key.stat().st_mode & 0o777 == 0o600
    pub = Path(f"{operator_key}.pub")
    assert pub.stat().st_mode & 0o777 == 0o644
    assert b"BEGIN PRIVATE KEY" in operator_key.read_bytes()
    assert b"BEGIN PUBLIC KEY" in pub.read_bytes()
    again = trust.operator_key(create=False)
    raw = lambda k: k.public_key().public_bytes(  # noqa: E731
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert raw(again) == raw(key)


def test_key_id_is_first_16_bytes_of_sha256_of_raw_key(operator_key: Path) -> None:
    key = trust.operator_key(create=True).public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key_id_for(key) == hashlib.sha256(raw).digest()[:16].hex()
    assert len(key_id_for(key)) == 32


def test_missing_key_without_create(operator_key: Path) -> None:
    with pytest.raises(TrustRootError, match="no key at"):
        trust.operator_key(create=False)


def test_group_readable_key_is_refused(operator_key: Path) -> None:
    trust.operator_key(create=True)
    os.chmod(operator_key, 0o640)
    with pytest.raises(TrustRootError, match="readable by group/others"):
        trust.operator_key(create=False)


def test_stale_pub_is_refused(operator_key: Path, tmp_path: Path) -> None:
    trust.operator_key(create=True)
    pub = Path(f"{operator_key}.pub")
    other = tmp_path / "other" / "key.pem"
    os.environ["GTC_OPERATOR_KEY_PATH"] = str(other)
    trust.operator_key(create=True)
    pub.write_bytes(Path(f"{other}.pub").read_bytes())
    os.environ["GTC_OPERATOR_KEY_PATH"] = str(operator_key)
    with pytest.raises(TrustRootError, match="stale public key"):
        trust.operator_key(create=False)


def test_symlinked_key_is_refused(operator_key: Path, tmp_path: Path) -> None:
    trust.operator_key(create=True)
    link = tmp_path / "link.pem"
    link.symlink_to(operator_key)
    os.environ["GTC_OPERATOR_KEY_PATH"] = str(link)
    with pytest.raises(TrustRootError, match="symlink"):
        trust.operator_key(create=False)


def test_trust_root_add_replaces_same_key_id(operator_key: Path, tmp_path: Path) -> None:
    path = tmp_path / "trust-root.json"
    assert load_trust_root(path) == []
    entry = operator_trust_key(trust.operator_key(create=True))
    add_key(path, entry)
    add_key(path, TrustKey(key_id=entry.key_id.upper(), public_key_pem=entry.public_key_pem))
    keys = load_trust_root(path)
    assert keys == [entry]
    doc = json.loads(path.read_text())
    assert doc == {
        "schema": "greentic.trust-root.v1",
        "keys": [{"key_id": entry.key_id, "public_key_pem": entry.public_key_pem}],
    }


def test_bad_trust_root_file(tmp_path: Path) -> None:
    path = tmp_path / "trust-root.json"
    path.write_text('{"schema": "greentic.trust-root.v1", "keys": [{"key_id": "zz"}]}')
    with pytest.raises(TrustRootError, match="trust root"):
        load_trust_root(path)
