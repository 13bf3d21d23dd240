"""env-manifest v1 and trust-root models: unknown keys named, shape rules, schema output."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from greentic.deployer.common import validation_message
from greentic.spec.manifest import EnvManifest
from greentic.spec.trust_root import TrustKey, TrustRoot


def base() -> dict[str, Any]:
    return {"schema": "greentic.env-manifest.v1", "environment": {"id": "local"}}


def message(doc: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as err:
        EnvManifest.model_validate(doc)
    return validation_message(err.value)


def test_minimal_manifest() -> None:
    m = EnvManifest.model_validate(base())
    assert m.environment.id == "local" and m.packs == [] and m.trust_root is None


@pytest.mark.parametrize(
    ("where", "key"),
    [
        ((), "clusterz"),
        (("environment",), "nmae"),
        (("packs", 0), "answer"),
        (("bundles", 0), "revision"),
        (("secrets", 0), "value"),
        (("messaging_endpoints", 0), "link"),
    ],
)
def test_unknown_keys_are_named_everywhere(where: tuple[Any, ...], key: str) -> None:
    doc = base() | {
        "packs": [{"slot": "deployer", "kind": "a.b@1.0.0", "pack_ref": "x"}],
        "bundles": [{"bundle_id": "b", "bundle_path": "b.gtbundle"}],
        "secrets": [{"path": "t/_/c/n"}],
        "messaging_endpoints": [{"name": "e", "provider_type": "webchat"}],
    }
    node: Any = doc
    for step in where:
        node = node[step]
    node[key] = 1
    assert f"unknown key `{key}`" in message(doc)


def test_secret_values_are_not_a_manifest_field() -> None:
    assert "unknown key `value`" in message(base() | {"secrets": [{"path": "p", "value": "x"}]})


def test_uniqueness_rules() -> None:
    b = {"bundle_id": "b", "bundle_path": "x"}
    assert "duplicate bundle_id" in message(base() | {"bundles": [b, b]})
    e = {"name": "e", "provider_type": "t"}
    assert "duplicate endpoint name" in message(base() | {"messaging_endpoints": [e, e]})
    s = {"path": "t/_/c/n"}
    assert "duplicate secret path" in message(base() | {"secrets": [s, s]})


def test_messaging_slot_is_not_a_pack() -> None:
    doc = base() | {"packs": [{"slot": "messaging", "kind": "a.b@1.0.0", "pack_ref": "x"}]}
    assert "use messaging_endpoints[]" in message(doc)


def test_json_schema_is_generated() -> None:
    schema = EnvManifest.model_json_schema(by_alias=True)
    assert "schema" in schema["properties"] and "environment" in schema["required"]


def test_trust_root_model_lowercases_and_replaces() -> None:
    k = TrustKey(key_id="AB" * 16, public_key_pem="pem")
    assert k.key_id == "ab" * 16
    root = TrustRoot(keys=[k]).with_key(TrustKey(key_id="ab" * 16, public_key_pem="pem2"))
    assert [x.public_key_pem for x in root.keys] == ["pem2"]
    with pytest.raises(ValidationError):
        TrustKey(key_id="nothex", public_key_pem="p")
    with pytest.raises(ValidationError):
        TrustRoot.model_validate({"schema": "greentic.trust-root.v1", "keys": [], "x": 1})
