"""The operator's Ed25519 signing key: PKCS#8 PEM, mode 0600, SPKI `.pub` beside it (0644).

Path `$GTC_OPERATOR_KEY_PATH`, else `~/.greentic/operator/key.pem`; directories created for it
are 0700. Loading refuses a key that is group/world-readable or a symlink, and a `.pub` that
does not match. `key_id` is the lowercase hex of the first 16 bytes of SHA-256 over the raw
32-byte public key.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from greentic.errors import TrustRootError
from greentic.store import atomic
from greentic.store.files import private_dirs

ENV_VAR = "GTC_OPERATOR_KEY_PATH"


def operator_key_path() -> Path:
    """`$GTC_OPERATOR_KEY_PATH`, else `~/.greentic/operator/key.pem`."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return Path(explicit)
    home = os.environ.get("HOME")
    if not home:
        raise TrustRootError(f"operator key: neither ${ENV_VAR} nor HOME is set")
    return Path(home) / ".greentic" / "operator" / "key.pem"


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_for(key: Ed25519PublicKey) -> str:
    """32 lowercase hex chars: first 16 bytes of SHA-256 of the raw public key."""
    return hashlib.sha256(raw_public(key)).digest()[:16].hex()


def public_pem(key: Ed25519PublicKey) -> str:
    """SPKI PEM text of `key`."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        st = path.lstat()
    except OSError as exc:
        raise TrustRootError(f"operator key: cannot read {path}: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise TrustRootError(f"operator key: {path} is a symlink; refusing to load it")
    if st.st_mode & 0o077:
        raise TrustRootError(
            f"operator key: {path} is readable by group/others (mode {st.st_mode & 0o777:o})",
            hint=f"chmod 600 {path}",
        )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise TrustRootError(f"operator key: {path} is not a PKCS#8 PEM key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise TrustRootError(f"operator key: {path} is not an Ed25519 key")
    pub = Path(f"{path}.pub")
    if pub.exists():
        try:
            stored = serialization.load_pem_public_key(pub.read_bytes())
        except (OSError, ValueError) as exc:
            raise TrustRootError(f"operator key: {pub} is not a public key PEM: {exc}") from None
        if not isinstance(stored, Ed25519PublicKey) or raw_public(stored) != raw_public(
            key.public_key()
        ):
            raise TrustRootError(
                f"operator key: {pub} does not match {path} (stale public key)",
                hint=f"delete {pub}; it is rewritten from the private key",
            )
    return key


def _create(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    private_dirs(path.parent)
    atomic.write_bytes(path, pem, mode=0o600)
    atomic.write_bytes(Path(f"{path}.pub"), public_pem(key.public_key()).encode(), mode=0o644)
    return key


def operator_key(create: bool) -> Ed25519PrivateKey:
    """Load the operator key; with `create`, generate it on first use."""
    path = operator_key_path()
    if not path.exists() and not path.is_symlink():
        if not create:
            raise TrustRootError(
                f"operator key: no key at {path}",
                hint="run `gtc op trust-root bootstrap <env-id>` to create it",
            )
        from greentic.store.lock import dir_lock

        # two first-time bootstraps must not mint two keys; the dir is created 0700
        with dir_lock(path.parent):
            if not path.exists():
                return _create(path)
    return _load(path)
