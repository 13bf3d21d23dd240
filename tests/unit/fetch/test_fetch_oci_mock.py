"""OCI pulls against a fake distribution API (httpx.MockTransport): auth, manifests, layers."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from greentic.errors import FetchError, InvalidArgument
from greentic.fetch import fetch
from greentic.fetch._oci import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, choose_layer

BUNDLE = b"PK\x03\x04 pretend bundle bytes " * 100
BUNDLE_DIGEST = "sha256:" + hashlib.sha256(BUNDLE).hexdigest()
REPO = "bundles/demo"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def manifest(media: str = OCI_MANIFEST, layer_digest: str = BUNDLE_DIGEST) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest(b"{}"),
                "size": 2,
            },
            "layers": [
                {
                    "mediaType": "application/octet-stream",
                    "digest": layer_digest,
                    "size": len(BUNDLE),
                }
            ],
        }
    ).encode()


@dataclass
class FakeRegistry:
    """A distribution API for one repo; optionally demands a bearer token or Basic auth."""

    manifests: dict[str, bytes] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    auth: str | None = None  # None | "bearer" | "basic"
    requests: list[httpx.Request] = field(default_factory=list)

    def handler(self, req: httpx.Request) -> httpx.Response:
        self.requests.append(req)
        if req.url.host == "auth.example":
            return httpx.Response(200, json={"token": "tok123"})
        if self.auth == "bearer" and req.headers.get("authorization") != "Bearer tok123":
            challenge = 'Bearer realm="https://auth.example/token",service="reg",scope="repository:bundles/demo:pull"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        if self.auth == "basic" and not req.headers.get("authorization", "").startswith("Basic "):
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="reg"'})
        prefix = f"/v2/{REPO}/"
        path = req.url.path
        if path.startswith(prefix + "manifests/"):
            ref = path.removeprefix(prefix + "manifests/")
            body = self.manifests.get(ref)
            if body is None:
                return httpx.Response(
                    404,
                    json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]},
                )
            return httpx.Response(
                200, content=body, headers={"Content-Type": json.loads(body)["mediaType"]}
            )
        if path.startswith(prefix + "blobs/"):
            blob = self.blobs.get(path.removeprefix(prefix + "blobs/"))
            return httpx.Response(200, content=blob) if blob is not None else httpx.Response(404)
        return httpx.Response(404)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


def registry(**kw: object) -> FakeRegistry:
    m = manifest()
    reg = FakeRegistry(**kw)  # type: ignore[arg-type]
    reg.manifests = {"v1": m, digest(m): m}
    reg.blobs = {BUNDLE_DIGEST: BUNDLE}
    return reg


def test_pull_by_tag_over_https_by_default(tmp_path: Path) -> None:
    reg = registry()
    got = fetch(f"oci://reg.example/{REPO}:v1", tmp_path, transport=reg.transport())
    assert (got.digest, got.size, got.path.read_bytes()) == (BUNDLE_DIGEST, len(BUNDLE), BUNDLE)
    assert {r.url.scheme for r in reg.requests} == {"https"}
    assert reg.requests[0].headers["accept"].startswith(OCI_MANIFEST)


def test_insecure_hosts_use_plain_http_exactly(tmp_path: Path) -> None:
    reg = registry()
    fetch(
        f"oci://reg.example:5000/{REPO}:v1",
        tmp_path,
        transport=reg.transport(),
        insecure_registries=frozenset({"reg.example:5000"}),
    )
    assert {r.url.scheme for r in reg.requests} == {"http"}
    reg.requests.clear()
    fetch(
        f"oci://reg.example:5000/{REPO}:v1",
        tmp_path,
        transport=reg.transport(),
        insecure_registries=frozenset({"reg.example"}),
    )
    assert {r.url.scheme for r in reg.requests} == {"https"}  # port differs: no match


def test_insecure_list_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = registry()
    monkeypatch.setenv("GREENTIC_OCI_INSECURE_REGISTRIES", "other:1, reg.example:5000")
    fetch(f"oci://reg.example:5000/{REPO}:v1", tmp_path, transport=reg.transport())
    assert {r.url.scheme for r in reg.requests} == {"http"}
    monkeypatch.setenv("GREENTIC_OCI_INSECURE_REGISTRIES", "http://reg.example:5000")
    with pytest.raises(InvalidArgument, match="carries a URL scheme"):
        fetch(f"oci://reg.example:5000/{REPO}:v1", tmp_path, transport=reg.transport())


def test_anonymous_bearer_token_flow(tmp_path: Path) -> None:
    reg = registry(auth="bearer")
    got = fetch(f"oci://reg.example/{REPO}:v1", tmp_path, transport=reg.transport())
    assert got.digest == BUNDLE_DIGEST
    token_calls = [r for r in reg.requests if r.url.host == "auth.example"]
    assert len(token_calls) == 1
    assert token_calls[0].url.params["scope"] == "repository:bundles/demo:pull"
    assert token_calls[0].url.params["service"] == "reg"
    assert "authorization" not in token_calls[0].headers  # anonymous


def test_credentials_force_https_and_go_only_to_an_allowed_token_realm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCI_USERNAME", "bob")
    monkeypatch.setenv("OCI_PASSWORD", "s3cret")
    reg = registry(auth="bearer")
    uri = f"oci://reg.example:5000/{REPO}:v1"
    insecure = frozenset({"reg.example:5000"})
    fetch(uri, tmp_path / "a", transport=reg.transport(), insecure_registries=insecure)
    assert {r.url.scheme for r in reg.requests} == {"https"}
    [token_call] = [r for r in reg.requests if r.url.host == "auth.example"]
    assert "authorization" not in token_call.headers  # another host: anonymous token request

    reg.requests.clear()
    monkeypatch.setenv("GREENTIC_OCI_TOKEN_REALM_HOSTS", "other.example, AUTH.example")
    fetch(uri, tmp_path / "b", transport=reg.transport(), insecure_registries=insecure)
    [token_call] = [r for r in reg.requests if r.url.host == "auth.example"]
    assert (
        token_call.headers["authorization"] == "Basic " + base64.b64encode(b"bob:s3cret").decode()
    )


def test_basic_challenge_uses_credentials_over_https(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = registry(auth="basic")
    with pytest.raises(FetchError, match="requires authentication") as err:
        fetch(f"oci://reg.example/{REPO}:v1", tmp_path, transport=reg.transport())
    assert err.value.hint is not None and "OCI_USERNAME" in err.value.hint
    monkeypatch.setenv("OCI_USERNAME", "bob")
    monkeypatch.setenv("OCI_PASSWORD", "s3cret")
    assert (
        fetch(f"oci://reg.example/{REPO}:v1", tmp_path, transport=reg.transport()).digest
        == BUNDLE_DIGEST
    )


def test_index_resolves_to_its_first_manifest_and_docker_types_work(tmp_path: Path) -> None:
    reg = registry()
    child = manifest(DOCKER_MANIFEST)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": DOCKER_MANIFEST, "digest": digest(child), "size": len(child)}
            ],
        }
    ).encode()
    reg.manifests.update({"multi": index, digest(child): child})
    got = fetch(f"oci://reg.example/{REPO}:multi", tmp_path, transport=reg.transport())
    assert got.digest == BUNDLE_DIGEST


def test_pull_by_manifest_digest_checks_it(tmp_path: Path) -> None:
    reg = registry()
    good = digest(reg.manifests["v1"])
    assert (
        fetch(f"oci://reg.example/{REPO}@{good}", tmp_path, transport=reg.transport()).digest
        == BUNDLE_DIGEST
    )
    wrong = "sha256:" + "0" * 64
    reg.manifests[wrong] = reg.manifests["v1"]
    with pytest.raises(FetchError, match="manifest digest mismatch"):
        fetch(f"oci://reg.example/{REPO}@{wrong}", tmp_path, transport=reg.transport())


def test_layer_bytes_must_match_the_layer_digest(tmp_path: Path) -> None:
    reg = registry()
    reg.blobs[BUNDLE_DIGEST] = BUNDLE + b"tampered"
    dest = tmp_path / "d"
    with pytest.raises(FetchError, match="not its manifest digest"):
        fetch(f"oci://reg.example/{REPO}:v1", dest, transport=reg.transport())
    assert list(dest.iterdir()) == []


def test_layer_over_the_cap_is_refused_before_download(tmp_path: Path) -> None:
    reg = registry()
    with pytest.raises(FetchError, match="over the 100-byte cap"):
        fetch(f"oci://reg.example/{REPO}:v1", tmp_path, transport=reg.transport(), max_bytes=100)
    assert not any(r.url.path.startswith(f"/v2/{REPO}/blobs/") for r in reg.requests)


def test_unknown_tag_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"404 Not Found \(MANIFEST_UNKNOWN: manifest unknown\)"):
        fetch(f"oci://reg.example/{REPO}:nope", tmp_path, transport=registry().transport())


def test_connect_failure_over_https_names_the_variable(tmp_path: Path) -> None:
    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number")

    with pytest.raises(FetchError) as err:
        fetch(f"oci://127.0.0.1:5000/{REPO}:v1", tmp_path, transport=httpx.MockTransport(refuse))
    assert "GREENTIC_OCI_INSECURE_REGISTRIES" in err.value.message
    assert "`127.0.0.1:5000`" in err.value.message


def test_choose_layer_prefers_bundle_types() -> None:
    layers = {
        "layers": [
            {"mediaType": "text/markdown", "digest": "a"},
            {"mediaType": "application/octet-stream", "digest": "b"},
        ]
    }
    assert choose_layer(layers)["digest"] == "b"
    assert choose_layer({"layers": [{"mediaType": "x", "digest": "c"}]})["digest"] == "c"
    with pytest.raises(FetchError, match="no layers"):
        choose_layer({"layers": []})
