"""`oci://` sources: manifest (by tag or digest; index → first manifest) → one layer blob.

The blob is streamed into a capped, hashed sink and must hash to the layer digest. The
bundle's content digest is the sha256 of those layer bytes, not the manifest digest.
Manifests are streamed too and cut past MAX_MANIFEST decoded bytes (gzip bombs included).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greentic.errors import FetchError
from greentic.fetch._deadline import Deadline
from greentic.fetch._errors import httpx_errors
from greentic.fetch._refs import DIGEST_RE, OciRef, dest_name
from greentic.fetch._registry import Registry
from greentic.fetch._retry import with_retries
from greentic.fetch._sink import CAP_HINT, Sink
from greentic.fetch._stream import iter_decoded, read_capped
from greentic.fetch._types import FetchedBundle

if TYPE_CHECKING:
    import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_ARTIFACT = "application/vnd.oci.artifact.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST, OCI_ARTIFACT))
INDEXES = (OCI_INDEX, DOCKER_LIST)
BUNDLE_LAYER = "application/octet-stream"
PREFERRED_LAYERS = (
    "application/vnd.greentic.bundle.v1+zip",
    "application/vnd.greentic.gtbundle.v1+zip",
    BUNDLE_LAYER,
)
MAX_MANIFEST = 4 * 1024 * 1024


def _manifest(reg: Registry, reference: str) -> tuple[dict[str, Any], str, str]:
    """(document, media type, sha256 digest of its bytes) of one manifest."""
    path = f"/v2/{reg.ref.repository}/manifests/{reference}"
    resp = reg.send(
        "GET",
        path,
        scope=f"repository:{reg.ref.repository}:pull",
        headers={"Accept": ACCEPT},
        stream=True,
    )
    try:
        with httpx_errors(reg.what, timeout=reg.timeout, deadline=reg.deadline):
            body = read_capped(
                resp, cap=MAX_MANIFEST, what=reg.what, label="manifest", deadline=reg.deadline
            )
    finally:
        resp.close()
    try:
        doc = json.loads(body)
    except ValueError:
        raise FetchError(f"{reg.what}: the manifest is not JSON") from None
    if not isinstance(doc, dict):
        raise FetchError(f"{reg.what}: the manifest is not a JSON object")
    media = doc.get("mediaType") or resp.headers.get("content-type", "").split(";")[0].strip()
    return doc, str(media), "sha256:" + hashlib.sha256(body).hexdigest()


def choose_manifest(index: dict[str, Any]) -> str:
    """The digest of the first manifest an index lists (pure)."""
    entries = index.get("manifests") or []
    for entry in entries:
        digest = entry.get("digest") if isinstance(entry, dict) else None
        if isinstance(digest, str) and DIGEST_RE.match(digest):
            return digest
    raise FetchError("the image index lists no manifest with a sha256 digest")


def choose_layer(manifest: dict[str, Any]) -> dict[str, Any]:
    """The bundle layer (pure): the first preferred media type, else the first layer."""
    raw = manifest.get("layers") or manifest.get("blobs") or []
    layers: list[dict[str, Any]] = [x for x in raw if isinstance(x, dict)]
    if not layers:
        raise FetchError("the manifest has no layers")
    for media in PREFERRED_LAYERS:
        for layer in layers:
            if layer.get("mediaType") == media:
                return layer
    return layers[0]


def resolve_layer(reg: Registry) -> dict[str, Any]:
    """Manifest by tag or digest (checked when pinned), following an index to its first entry."""
    ref = reg.ref
    doc, media, digest = _manifest(reg, ref.reference)
    if ref.digest is not None and digest != ref.digest:
        raise FetchError(
            f"{reg.what}: manifest digest mismatch: expected {ref.digest}, got {digest}"
        )
    if media in INDEXES or ("manifests" in doc and "layers" not in doc):
        try:
            child = choose_manifest(doc)
        except FetchError as exc:
            raise FetchError(f"{reg.what}: {exc.message}") from None
        doc, _media, got = _manifest(reg, child)
        if got != child:
            raise FetchError(f"{reg.what}: manifest digest mismatch: expected {child}, got {got}")
    try:
        return choose_layer(doc)
    except FetchError as exc:
        raise FetchError(f"{reg.what}: {exc.message}") from None


def pull(
    ref: OciRef,
    dest_dir: Path,
    *,
    max_bytes: int,
    insecure: frozenset[str],
    transport: httpx.BaseTransport | None,
    timeout: float,
    attempts: int,
    sleep: Callable[[float], None],
    deadline: Deadline,
) -> FetchedBundle:
    """Download the bundle layer of `ref` into `dest_dir` within `deadline`."""
    with Registry.open(
        ref,
        insecure=insecure,
        transport=transport,
        timeout=timeout,
        attempts=attempts,
        sleep=sleep,
        action="pulling",
        deadline=deadline,
    ) as reg:
        layer = resolve_layer(reg)
        digest, size = layer.get("digest"), layer.get("size")
        if not isinstance(digest, str) or not DIGEST_RE.match(digest):
            raise FetchError(f"{reg.what}: the layer digest `{digest}` is not sha256:<hex>")
        if isinstance(size, int) and size > max_bytes:
            raise FetchError(
                f"{reg.what}: the bundle layer is {size} bytes, over the {max_bytes}-byte cap; "
                "nothing downloaded"
            )
        name = dest_name(str(ref), ref.repository.rsplit("/", 1)[-1] + ".gtbundle")
        path = f"/v2/{ref.repository}/blobs/{digest}"
        scope = f"repository:{ref.repository}:pull"

        def attempt() -> FetchedBundle:
            resp = reg.send("GET", path, scope=scope, stream=True, retry=False)
            try:
                with (
                    httpx_errors(reg.what, timeout=timeout, deadline=deadline),
                    Sink(dest_dir, max_bytes=max_bytes, what=reg.what) as sink,
                ):
                    for chunk in iter_decoded(
                        resp,
                        cap=max_bytes,
                        what=reg.what,
                        label="bundle layer",
                        deadline=deadline,
                        hint=CAP_HINT,
                    ):
                        sink.write(chunk)
                    if sink.digest != digest:
                        raise FetchError(
                            f"{reg.what}: the layer blob hashes to {sink.digest}, not its "
                            f"manifest digest {digest}; nothing kept"
                        )
                    return sink.commit(name)
            finally:
                resp.close()

        return with_retries(attempt, attempts=attempts, sleep=sleep, deadline=deadline)
