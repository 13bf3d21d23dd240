"""Pack signatures: Ed25519 over the canonical manifest with `signatures` emptied (SPEC §5).

`sign` appends a signature to a pack manifest; `verify` checks it 1-of-N against trusted keys
and says `verified`, `unsigned` or `invalid`. Trust roots are loaded by the caller
(`greentic.trust.trust_root.load_trust_root`) and passed in as `TrustKey`s; this module
does no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from greentic.bundle.manifest import PackManifest, Signature
from greentic.errors import TrustRootError
from greentic.spec.trust_root import TrustKey

Status = Literal["verified", "unsigned", "invalid"]


@dataclass(frozen=True)
class Verification:
    """Outcome of checking one pack: which key verified it, or why none did."""

    status: Status
    key_id: str | None = None
    detail: str = ""


def canonical_bytes(manifest: PackManifest) -> bytes:
    """What is signed: the manifest as compact, key-sorted JSON with `signatures` emptied."""
    doc = manifest.model_copy(update={"signatures": []}).to_json_dict()
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_for(key: Ed25519PublicKey) -> str:
    """Upstream key id: lowercase hex of the first 16 bytes of SHA-256(raw public key)."""
    return hashlib.sha256(raw_public_key(key)).hexdigest()[:32]


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def trusted_key(key: Ed25519PublicKey) -> TrustKey:
    """The trust-root entry for `key` (`greentic.spec.trust_root.TrustKey`)."""
    return TrustKey(key_id=key_id_for(key), public_key_pem=public_key_pem(key))


def load_private_key(pem: bytes, *, what: str) -> Ed25519PrivateKey:
    """An Ed25519 PKCS#8 PEM private key; errors name `what`, never the key material."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise TrustRootError(f"{what}: not an unencrypted PKCS#8 PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise TrustRootError(f"{what}: not an Ed25519 key")
    return key


def sign(manifest: PackManifest, key: Ed25519PrivateKey) -> PackManifest:
    """A copy of `manifest` carrying a signature by `key` (replacing one by the same key id)."""
    key_id = key_id_for(key.public_key())
    sig = base64.b64encode(key.sign(canonical_bytes(manifest))).decode()
    kept = [s for s in manifest.signatures if s.key_id.lower() != key_id]
    entry = Signature(key_id=key_id, algorithm="ed25519", signature=sig)
    return manifest.model_copy(update={"signatures": [*kept, entry]})


def _public(pem: str) -> Ed25519PublicKey | None:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


def verify(manifest: PackManifest, trusted: Sequence[TrustKey]) -> Verification:
    """1-of-N: verified when any signature checks out under a trusted key with its key id."""
    if not manifest.signatures:
        return Verification("unsigned", detail="no signatures")
    if not trusted:
        return Verification("invalid", detail="the trust root has no keys")
    message = canonical_bytes(manifest)
    by_id = {k.key_id.lower(): k for k in trusted}
    for sig in manifest.signatures:
        tk = by_id.get(sig.key_id.lower())
        pub = _public(tk.public_key_pem) if tk is not None else None
        if pub is None or key_id_for(pub) != sig.key_id.lower():
            continue
        try:
            pub.verify(base64.b64decode(sig.signature, validate=True), message)
        except (InvalidSignature, binascii.Error, ValueError):
            continue
        return Verification("verified", key_id=sig.key_id.lower())
    ids = ", ".join(f"`{s.key_id}`" for s in manifest.signatures)
    return Verification(
        "invalid",
        detail=f"no signature (key ids {ids}) verifies against the {len(by_id)} trusted key(s)",
    )


def require_verified(manifest: PackManifest, trusted: Sequence[TrustKey], *, what: str) -> str:
    """The verifying key id, or a TrustRootError naming the pack and what failed."""
    result = verify(manifest, trusted)
    if result.status == "verified" and result.key_id is not None:
        return result.key_id
    raise TrustRootError(
        f"{what}: pack `{manifest.pack_id}` is {result.status} ({result.detail}); refusing it "
        "because signature verification is required",
        hint="sign it with `gtc pack sign` using a key that is in the env's trust-root.json",
    )
