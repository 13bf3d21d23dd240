"""The shared vocabulary of the pod translation: objects by key, ConfigMap/Secret bytes, the
volume shapes, and `PodSpecError`. Pure; used by harness.docker.podspec, .containers and
.dockerargs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError

Obj = Mapping[str, Any]
ObjectKey = tuple[str, str, str]  # (kind, namespace or "", name)


class PodSpecError(HarnessError):
    """Raised when a rendered object cannot run on the docker track; names the field and why."""


def key_of(obj: Obj) -> ObjectKey:
    """(kind, namespace, name) of an object; the namespace is "" for cluster-scoped kinds."""
    meta = obj.get("metadata") or {}
    if not obj.get("kind") or not meta.get("name"):
        raise PodSpecError(f"an object without kind or metadata.name: {json.dumps(obj)[:200]}")
    return (str(obj["kind"]), str(meta.get("namespace") or ""), str(meta["name"]))


def index(objects: Iterable[Obj]) -> dict[ObjectKey, Obj]:
    """Objects by key; a duplicate key is an error (the same object twice in one set)."""
    out: dict[ObjectKey, Obj] = {}
    for obj in objects:
        key = key_of(obj)
        if key in out:
            raise PodSpecError(f"{key[0]} {key[2]} appears twice in the objects to sync")
        out[key] = obj
    return out


def source_data(obj: Obj) -> dict[str, bytes]:
    """A ConfigMap's data + binaryData, or a Secret's data + stringData, as bytes per key."""
    out: dict[str, bytes] = {}
    if obj["kind"] == "Secret":
        for key, value in (obj.get("data") or {}).items():
            out[key] = base64.b64decode(value)
        for key, value in (obj.get("stringData") or {}).items():
            out[key] = str(value).encode()
    else:
        for key, value in (obj.get("data") or {}).items():
            out[key] = str(value).encode()
        for key, value in (obj.get("binaryData") or {}).items():
            out[key] = base64.b64decode(value)
    return out


def safe_rel(where: str, path: str) -> str:
    """`path` if it is relative and free of `..` (a projected or subPath file name)."""
    parts = path.split("/")
    if not path or path.startswith("/") or ".." in parts or "" in parts:
        raise PodSpecError(f"{where}: projected path {path!r} must be relative, without `..`")
    return path


@dataclass(frozen=True)
class MountSpec:
    """One volumeMount: `volume` (a pod volume name) at `target`."""

    target: str
    volume: str
    read_only: bool = False
    sub_path: str | None = None


@dataclass(frozen=True)
class ProjectedFile:
    path: str
    data: bytes
    mode: int


@dataclass(frozen=True)
class Projection:
    """A ConfigMap or Secret volume: the files to write and bind read-only."""

    volume: str
    kind: str
    source: str
    files: tuple[ProjectedFile, ...]


@dataclass(frozen=True)
class EmptyDir:
    """An emptyDir: a tmpfs Docker volume owned by the pod's uid and fsGroup."""

    volume: str
    size_bytes: int | None = None
