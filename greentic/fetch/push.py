"""Publish a .gtbundle to an OCI registry as a single-layer artifact (`gtc bundle push`).

Layout (docs/bundle-format.md): config blob `{}` (`application/vnd.oci.image.config.v1+json`),
one layer `application/octet-stream` whose bytes are the bundle file, manifest
`application/vnd.oci.image.manifest.v1+json` with `artifactType`
`application/vnd.greentic.bundle.v1+zip`. Blobs are uploaded monolithically (POST then PUT),
the bundle streamed from disk; blobs the registry already has are skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from greentic.errors import FetchError, InvalidArgument, NotFound
from greentic.fetch._oci import BUNDLE_LAYER, OCI_MANIFEST
from greentic.fetch._refs import INSECURE_VAR, check_insecure_entry, parse_insecure, parse_oci
from greentic.fetch._registry import Registry
from greentic.fetch._retry import with_retries
from greentic.fetch._types import CHUNK, DEFAULT_ATTEMPTS, DEFAULT_TIMEOUT

if TYPE_CHECKING:
    import httpx

CONFIG_MEDIA = "application/vnd.oci.image.config.v1+json"
ARTIFACT_TYPE = "application/vnd.greentic.bundle.v1+zip"
EMPTY_CONFIG = b"{}"


@dataclass(frozen=True)
class Pushed:
    """What a push produced: the reference, manifest digest, and the bundle's content digest."""

    reference: str
    manifest_digest: str
    bundle_digest: str
    size: int


def manifest_bytes(bundle_digest: str, size: int, *, title: str) -> bytes:
    """The image manifest of a pushed bundle (pure; compact JSON, stable key order)."""
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {
            "mediaType": CONFIG_MEDIA,
            "digest": "sha256:" + hashlib.sha256(EMPTY_CONFIG).hexdigest(),
            "size": len(EMPTY_CONFIG),
        },
        "layers": [
            {
                "mediaType": BUNDLE_LAYER,
                "digest": bundle_digest,
                "size": size,
                "annotations": {"org.opencontainers.image.title": title},
            }
        ],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _file_digest(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return "sha256:" + h.hexdigest(), size


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _upload(
    reg: Registry, digest: str, size: int, body: Callable[[], bytes | Iterator[bytes]]
) -> None:
    repo = reg.ref.repository
    scope = f"repository:{repo}:pull,push"
    head = reg.send("HEAD", f"/v2/{repo}/blobs/{digest}", scope=scope, ok=(200, 404))
    if head.status_code == 200:
        return
    with_retries(
        lambda: _upload_once(reg, digest, size, body),
        attempts=reg.attempts,
        sleep=reg.sleep,
        deadline=reg.deadline,
    )


def _upload_once(
    reg: Registry, digest: str, size: int, body: Callable[[], bytes | Iterator[bytes]]
) -> None:
    """POST a new upload session, then PUT the whole blob to it (retried as one unit)."""
    repo = reg.ref.repository
    scope = f"repository:{repo}:pull,push"
    start = reg.send("POST", f"/v2/{repo}/blobs/uploads/", scope=scope, ok=(202,), retry=False)
    location = start.headers.get("location")
    if not location:
        raise FetchError(f"{reg.what}: the registry gave no upload location")
    url = urljoin(reg.url(f"/v2/{repo}/blobs/uploads/"), location)
    url += ("&" if "?" in url else "?") + f"digest={digest}"
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
    reg.send("PUT", url, scope=scope, headers=headers, content=body, ok=(201,), retry=False)


def push(
    bundle: Path,
    uri: str,
    *,
    insecure: bool = False,
    transport: httpx.BaseTransport | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    attempts: int = DEFAULT_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> Pushed:
    """Push `bundle` to `oci://host[:port]/repo:tag`.

    Plain HTTP only when `insecure` is set or the host is listed in
    $GREENTIC_OCI_INSECURE_REGISTRIES (and OCI_USERNAME/OCI_PASSWORD are not set).
    """
    ref = parse_oci(uri)
    if ref.digest is not None:
        raise InvalidArgument(f"push needs a tag, not a digest: `{uri}`")
    if not bundle.is_file():
        raise NotFound(f"bundle file {bundle} does not exist")
    listed = parse_insecure(os.environ.get(INSECURE_VAR))
    allowed = listed | {check_insecure_entry(ref.registry)} if insecure else listed
    digest, size = _file_digest(bundle)
    manifest = manifest_bytes(digest, size, title=bundle.name)
    with Registry.open(
        ref,
        insecure=allowed,
        transport=transport,
        timeout=timeout,
        attempts=attempts,
        sleep=sleep,
        action="pushing to",
    ) as reg:
        config_digest = "sha256:" + hashlib.sha256(EMPTY_CONFIG).hexdigest()
        _upload(reg, config_digest, len(EMPTY_CONFIG), lambda: EMPTY_CONFIG)
        _upload(reg, digest, size, lambda: _chunks(bundle))
        resp = reg.send(
            "PUT",
            f"/v2/{ref.repository}/manifests/{ref.tag}",
            scope=f"repository:{ref.repository}:pull,push",
            headers={"Content-Type": OCI_MANIFEST},
            content=manifest,
            ok=(201,),
        )
    expected = "sha256:" + hashlib.sha256(manifest).hexdigest()
    returned = resp.headers.get("docker-content-digest", expected)
    if returned != expected:
        raise FetchError(
            f"{reg.what}: the registry stored manifest {returned}, expected {expected}"
        )
    return Pushed(reference=str(ref), manifest_digest=expected, bundle_digest=digest, size=size)
