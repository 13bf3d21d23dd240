"""Pack signatures: Ed25519 over the canonical manifest, verified 1-of-N against a trust root."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from greentic.bundle import signing
from greentic.bundle.manifest import FlowEntry, PackManifest
from greentic.errors import TrustRootError
from greentic.spec.trust_root import TrustKey


def manifest() -> PackManifest:
    return PackManifest(pack_id="p", version="1.0.0", flows=[FlowEntry(id="main")])


def test_canonical_bytes_ignore_signatures_and_are_compact_sorted() -> None:
    m = manifest()
    signed = signing.sign(m, Ed25519PrivateKey.generate())
    assert signing.canonical_bytes(m) == signing.canonical_bytes(signed)
    text = signing.canonical_bytes(m).decode()
    assert text.startswith('{"components":[],"flows":[{"entrypoints":["default"]')
    assert '"signatures":[]' in text and " " not in text


def test_key_id_is_sha256_prefix_of_the_raw_public_key() -> None:
    import hashlib

    key = Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert signing.key_id_for(key) == hashlib.sha256(raw).hexdigest()[:32]


def test_one_of_n_verification() -> None:
    a, b, c = (Ed25519PrivateKey.generate() for _ in range(3))
    signed = signing.sign(manifest(), a)
    trust_ab = [signing.trusted_key(b.public_key()), signing.trusted_key(a.public_key())]
    result = signing.verify(signed, trust_ab)
    assert result.status == "verified"
    assert result.key_id == signing.key_id_for(a.public_key())
    assert signing.verify(signed, [signing.trusted_key(c.public_key())]).status == "invalid"
    assert signing.verify(manifest(), trust_ab).status == "unsigned"
    assert signing.verify(signed, []).status == "invalid"


def test_resigning_with_the_same_key_replaces_the_signature() -> None:
    key = Ed25519PrivateKey.generate()
    twice = signing.sign(signing.sign(manifest(), key), key)
    assert len(twice.signatures) == 1


def test_tampered_manifest_or_signature_does_not_verify() -> None:
    key = Ed25519PrivateKey.generate()
    trust = [signing.trusted_key(key.public_key())]
    signed = signing.sign(manifest(), key)
    assert signing.verify(signed.model_copy(update={"version": "6.6.6"}), trust).status == "invalid"
    sig = signed.signatures[0]
    flipped = base64.b64encode(
        bytes([base64.b64decode(sig.signature)[0] ^ 1]) + base64.b64decode(sig.signature)[1:]
    ).decode()
    bad = signed.model_copy(update={"signatures": [sig.model_copy(update={"signature": flipped})]})
    assert signing.verify(bad, trust).status == "invalid"
    garbage = signed.model_copy(
        update={"signatures": [sig.model_copy(update={"signature": "%%%"})]}
    )
    assert signing.verify(garbage, trust).status == "invalid"


def test_a_trust_root_entry_under_the_wrong_key_id_does_not_count() -> None:
    key = Ed25519PrivateKey.generate()
    signed = signing.sign(manifest(), key)
    impostor = TrustKey(
        key_id=signed.signatures[0].key_id,
        public_key_pem=signing.public_key_pem(Ed25519PrivateKey.generate().public_key()),
    )
    assert signing.verify(signed, [impostor]).status == "invalid"


def test_require_verified_names_the_pack() -> None:
    with pytest.raises(TrustRootError, match="pack `p` is unsigned") as err:
        signing.require_verified(manifest(), [], what="bundle x")
    assert err.value.hint and "gtc pack sign" in err.value.hint


def test_private_key_errors_never_echo_the_key() -> None:
    with pytest.raises(TrustRootError) as err:
        signing.load_private_key(
            b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n", what="k.pem"
        )
    assert "c2VjcmV0" not in err.value.message
