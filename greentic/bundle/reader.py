"""Read and validate packs and bundles; load the packs of a materialized revision.

`read_pack` / `check_bundle` validate archives (hardened by `archive.SafeZip`) and, when given
trusted keys, require every pack signature to verify. `inspect` is `gtc bundle inspect`.
`load_revision_packs(rev_dir)` is what the worker calls after activation: it re-checks each
.gtpack against `pack-list.lock` and returns the flows as YAML text.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from greentic.bundle import pack_config
from greentic.bundle.archive import DEFAULT_LIMITS, Limits, SafeZip, UnsafeArchive
from greentic.bundle.digest import sha256_bytes, sha256_file
from greentic.bundle.flows import check_flow
from greentic.bundle.manifest import (
    BUNDLE_MANIFEST,
    BUNDLE_YAML,
    PACK_MANIFEST,
    AppPack,
    BundleManifest,
    PackManifest,
    first_error,
    flow_path,
    pack_path,
    parse_bundle_manifest,
    parse_pack_manifest,
)
from greentic.errors import NotFound, SpecError, StoreError
from greentic.spec.pack_list_lock import PackListLock

if TYPE_CHECKING:  # signing (cryptography) is imported where a signature is checked (#16)
    from greentic.spec.trust_root import TrustKey

PACK_LIMITS = Limits(max_total=256 * 1024**2, max_entries=4096)
MAX_PACK_BYTES = 64 * 1024**2
PACK_LIST_LOCK = "pack-list.lock"


@dataclass(frozen=True)
class Pack:
    """A validated .gtpack: its manifest, flow sources (id → YAML text), digest and size."""

    manifest: PackManifest
    flows: dict[str, str]
    digest: str
    size: int


@dataclass(frozen=True)
class BundleContents:
    """A validated .gtbundle's manifest, packs by id and pack-config inputs by pack id."""

    manifest: BundleManifest
    packs: dict[str, Pack]
    pack_configs: dict[str, pack_config.PackConfigInput] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedPack:
    """One pack of an activated revision, ready for the flow engine (engineer D's worker)."""

    pack_id: str
    version: str
    manifest: dict[str, Any]
    flows: dict[str, str]
    config: dict[str, Any] | None
    digest: str = ""


def read_pack(data: bytes, *, what: str) -> Pack:
    """Validate a .gtpack's bytes: safe archive, manifest, and every listed flow present/valid."""
    with SafeZip.open(io.BytesIO(data), what=what, limits=PACK_LIMITS) as z:
        manifest = parse_pack_manifest(z.read(PACK_MANIFEST), f"{what}: {PACK_MANIFEST}")
        listed = {flow_path(f.id) for f in manifest.flows}
        for name in z.names():
            if name.startswith("flows/") and name not in listed:
                raise SpecError(f"{what}: entry `{name}` is not a flow listed in {PACK_MANIFEST}")
        flows: dict[str, str] = {}
        for entry in manifest.flows:
            name = flow_path(entry.id)
            if name not in z.files:
                raise SpecError(f"{what}: flow `{entry.id}` is listed but `{name}` is missing")
            try:
                text = z.read(name).decode("utf-8")
            except UnicodeDecodeError:
                raise SpecError(f"{what}: entry `{name}` is not UTF-8 text") from None
            check_flow(text, flow_id=entry.id, what=f"{what}: {name}")
            flows[entry.id] = text
    return Pack(manifest=manifest, flows=flows, digest=sha256_bytes(data), size=len(data))


def _app_pack(
    z: SafeZip, app: AppPack, *, listed_before: bool, trusted_keys: Sequence[TrustKey] | None
) -> Pack:
    """One app pack of the bundle: where it lives, its pinned digest, id and version, signature."""
    what = z.what
    if app.path != pack_path(app.pack_id):
        raise SpecError(f"{what}: app pack `{app.pack_id}` must live at `{pack_path(app.pack_id)}`")
    if listed_before:
        raise SpecError(f"{what}: app pack `{app.pack_id}` is listed twice")
    data = z.read(app.path, max_bytes=MAX_PACK_BYTES)
    pack = read_pack(data, what=f"{what}: {app.path}")
    if pack.digest != app.digest:
        raise SpecError(
            f"{what}: entry `{app.path}` has digest `{pack.digest}` but "
            f"{BUNDLE_MANIFEST} pins `{app.digest}`"
        )
    if pack.manifest.pack_id != app.pack_id or pack.manifest.version != app.version:
        raise SpecError(
            f"{what}: entry `{app.path}` holds pack `{pack.manifest.pack_id}` "
            f"{pack.manifest.version}, not `{app.pack_id}` {app.version}"
        )
    if trusted_keys is not None:
        from greentic.bundle import signing

        signing.require_verified(pack.manifest, trusted_keys, what=f"{what}: {app.path}")
    return pack


def _pack_configs(z: SafeZip, packs: Mapping[str, Pack]) -> dict[str, pack_config.PackConfigInput]:
    """`state/pack-configs/<pack_id>.json` of bundled packs, parsed."""
    configs: dict[str, pack_config.PackConfigInput] = {}
    for name in sorted(n for n in z.names() if n.startswith("state/pack-configs/")):
        stem = name.removeprefix("state/pack-configs/").removesuffix(".json")
        if not name.endswith(".json") or "/" in stem or stem not in packs:
            raise SpecError(
                f"{z.what}: entry `{name}` is not `state/pack-configs/<pack_id>.json` "
                "of a bundled pack"
            )
        configs[stem] = pack_config.parse_input(z.read(name), what=f"{z.what}: {name}")
    return configs


def check_bundle(z: SafeZip, *, trusted_keys: Sequence[TrustKey] | None = None) -> BundleContents:
    """Validate an opened bundle: manifest, bundle.yaml, packs (digests, ids), pack configs."""
    what = z.what
    manifest = parse_bundle_manifest(z.read(BUNDLE_MANIFEST), f"{what}: {BUNDLE_MANIFEST}")
    if BUNDLE_YAML not in z.files:
        raise SpecError(f"{what}: missing entry `{BUNDLE_YAML}`")
    if not manifest.app_packs:
        raise SpecError(f"{what}: bundle `{manifest.bundle_id}` lists no app_packs")
    in_archive = {n for n in z.names() if n.startswith("packs/")}
    listed = {a.path for a in manifest.app_packs}
    for name in sorted(in_archive - listed):
        raise SpecError(f"{what}: entry `{name}` is not listed in {BUNDLE_MANIFEST} app_packs")
    packs: dict[str, Pack] = {}
    for app in manifest.app_packs:
        packs[app.pack_id] = _app_pack(
            z, app, listed_before=app.pack_id in packs, trusted_keys=trusted_keys
        )
    return BundleContents(manifest=manifest, packs=packs, pack_configs=_pack_configs(z, packs))


def read_bundle(
    path: Path,
    *,
    trusted_keys: Sequence[TrustKey] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> BundleContents:
    """Open and validate the .gtbundle at `path` (see `check_bundle`)."""
    with SafeZip.open(path, what=f"bundle {path}", limits=limits) as z:
        return check_bundle(z, trusted_keys=trusted_keys)


def signature_status(pack: Pack, trusted_keys: Sequence[TrustKey] | None) -> dict[str, Any]:
    """`unsigned`, `signed` (no trust root given), `verified` (with key id) or `invalid`."""
    if not pack.manifest.signatures:
        return {"status": "unsigned"}
    if trusted_keys is None:
        return {"status": "signed", "key_ids": [s.key_id for s in pack.manifest.signatures]}
    from greentic.bundle import signing

    result = signing.verify(pack.manifest, trusted_keys)
    out: dict[str, Any] = {"status": result.status}
    if result.key_id:
        out["key_id"] = result.key_id
    if result.detail:
        out["detail"] = result.detail
    return out


def inspect(path: Path, *, trusted_keys: Sequence[TrustKey] | None = None) -> dict[str, Any]:
    """What `gtc bundle inspect` prints: manifest, packs, flows, signatures, digest, size."""
    contents = read_bundle(path)
    return {
        "file": str(path),
        "digest": sha256_file(path),
        "size": path.stat().st_size,
        "format_version": contents.manifest.format_version,
        "bundle_id": contents.manifest.bundle_id,
        "bundle_name": contents.manifest.bundle_name,
        "packs": [
            {
                "pack_id": pid,
                "version": p.manifest.version,
                "digest": p.digest,
                "size": p.size,
                "flows": [
                    {"id": f.id, "kind": f.kind, "entrypoints": f.entrypoints}
                    for f in p.manifest.flows
                ],
                "signature": signature_status(p, trusted_keys),
            }
            for pid, p in sorted(contents.packs.items())
        ],
        "pack_configs": sorted(contents.pack_configs),
    }


def read_lock(rev_dir: Path) -> PackListLock:
    """The revision's pack-list.lock, validated."""
    path = rev_dir / PACK_LIST_LOCK
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise NotFound(
            f"{rev_dir} has no {PACK_LIST_LOCK}: the revision is not materialized"
        ) from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read {path}: {exc}") from None
    try:
        return PackListLock.model_validate(doc)
    except ValidationError as exc:
        raise SpecError(f"{path}: {first_error(exc)}") from None


def load_revision_packs(rev_dir: Path) -> list[LoadedPack]:
    """The packs of the materialized revision at `<env>/revisions/<REV>`, re-verified.

    Each .gtpack must still hash to its pack-list.lock digest and live inside `rev_dir`.
    """
    lock = read_lock(rev_dir)
    if lock.revision_id != rev_dir.name:
        raise SpecError(
            f"{rev_dir / PACK_LIST_LOCK}: revision_id `{lock.revision_id}` != `{rev_dir.name}`"
        )
    env_dir = rev_dir.parent.parent
    root = rev_dir.resolve()
    out: list[LoadedPack] = []
    for entry in lock.packs:
        path = env_dir / entry.path
        if not path.resolve().is_relative_to(root):
            raise SpecError(f"pack-list.lock path `{entry.path}` is outside {rev_dir}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StoreError(
                f"cannot read pack `{entry.pack_id}` at {path}: {exc.strerror or exc}"
            ) from None
        digest = sha256_bytes(data)
        if digest != entry.digest:
            raise SpecError(
                f"pack `{entry.pack_id}` at `{entry.path}` has digest `{digest}` but "
                f"pack-list.lock pins `{entry.digest}`; refusing to load it"
            )
        pack = read_pack(data, what=f"pack {entry.path}")
        if pack.manifest.pack_id != entry.pack_id:
            raise SpecError(
                f"`{entry.path}` holds pack `{pack.manifest.pack_id}`, lock says `{entry.pack_id}`"
            )
        out.append(
            LoadedPack(
                pack_id=entry.pack_id,
                version=pack.manifest.version,
                manifest=pack.manifest.to_json_dict(),
                flows=dict(pack.flows),
                config=_config(rev_dir, entry.pack_id),
                digest=digest,
            )
        )
    return out


def _config(rev_dir: Path, pack_id: str) -> dict[str, Any] | None:
    path = rev_dir / "pack-configs" / f"{pack_id}.json"
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise SpecError(f"{path}: expected a JSON object")
    return doc


__all__ = [
    "BundleContents",
    "LoadedPack",
    "Pack",
    "UnsafeArchive",
    "check_bundle",
    "inspect",
    "load_revision_packs",
    "read_bundle",
    "read_pack",
]
