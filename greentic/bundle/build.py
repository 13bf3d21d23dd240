"""Build .gtpack and .gtbundle files from sources, byte-for-byte reproducibly.

`pack_bytes` and `bundle_entries` are pure (same sources → same bytes → same digest);
`build_pack_dir` / `build_bundle_dir` read a source directory (`source`) and write the
artifact atomically (temp file in the target dir → fsync → rename). Called by
`gtc pack build`, `gtc bundle build` and fixtures/bundles/build.py.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from greentic.bundle import signing
from greentic.bundle.archive import Entry, write_zip, zip_bytes
from greentic.bundle.digest import sha256_file
from greentic.bundle.manifest import (
    BUNDLE_MANIFEST,
    BUNDLE_YAML,
    PACK_MANIFEST,
    AppPack,
    BundleManifest,
    PackManifest,
    flow_path,
    pack_config_path,
    pack_path,
    to_file_bytes,
)
from greentic.bundle.pack_config import parse_input
from greentic.bundle.reader import read_pack
from greentic.bundle.source import PackSource, load_bundle_dir, load_pack_dir, read_source
from greentic.errors import IoError, SpecError


@dataclass(frozen=True)
class Built:
    """An artifact on disk: where, its `sha256:` digest and size in bytes."""

    path: Path
    digest: str
    size: int


def pack_manifest(src: PackSource) -> PackManifest:
    """The unsigned manifest of a pack source."""
    return PackManifest(
        pack_id=src.pack_id, version=src.version, flows=src.entries, components=src.components
    )


def pack_bytes(manifest: PackManifest, flows: dict[str, str]) -> bytes:
    """The .gtpack bytes of a manifest and its flow sources (pure, deterministic)."""
    entries = [Entry(PACK_MANIFEST, to_file_bytes(manifest))]
    entries += [Entry(flow_path(fid), text.encode()) for fid, text in sorted(flows.items())]
    return zip_bytes(entries)


def build_pack(src: PackSource, *, sign_key: Ed25519PrivateKey | None = None) -> bytes:
    """A pack source → .gtpack bytes, signed when `sign_key` is given."""
    manifest = pack_manifest(src)
    if sign_key is not None:
        manifest = signing.sign(manifest, sign_key)
    return pack_bytes(manifest, src.flows)


def resign(data: bytes, key: Ed25519PrivateKey, *, what: str) -> bytes:
    """Re-emit a .gtpack with a signature by `key` added (flows untouched)."""
    pack = read_pack(data, what=what)
    return pack_bytes(signing.sign(pack.manifest, key), pack.flows)


def bundle_entries(
    *,
    bundle_id: str,
    bundle_name: str,
    bundle_yaml: bytes,
    packs: dict[str, bytes],
    pack_configs: dict[str, bytes] | None = None,
    assets: list[tuple[str, Path]] | None = None,
) -> list[Entry]:
    """Every entry of a .gtbundle (pure except that assets are streamed from their paths)."""
    apps: list[AppPack] = []
    for pid, data in sorted(packs.items()):
        pack = read_pack(data, what=f"pack `{pid}`")
        if pack.manifest.pack_id != pid:
            raise SpecError(f"pack file `{pid}.gtpack` holds pack `{pack.manifest.pack_id}`")
        apps.append(
            AppPack(
                pack_id=pid, version=pack.manifest.version, path=pack_path(pid), digest=pack.digest
            )
        )
    manifest = BundleManifest(bundle_id=bundle_id, bundle_name=bundle_name, app_packs=apps)
    entries = [
        Entry(BUNDLE_MANIFEST, to_file_bytes(manifest)),
        Entry(BUNDLE_YAML, bundle_yaml),
        *(Entry(pack_path(pid), data) for pid, data in sorted(packs.items())),
    ]
    for pid, data in sorted((pack_configs or {}).items()):
        cfg = parse_input(data, what=f"pack config `{pid}.json`")
        if cfg.pack_id != pid or pid not in packs:
            raise SpecError(
                f"pack config `{pid}.json` must name one of the bundle's packs as pack_id"
            )
        entries.append(Entry(pack_config_path(pid), data))
    entries += [Entry(name, source=path) for name, path in assets or []]
    return entries


def write_atomically(out: Path, write: Callable[[BinaryIO], None]) -> Built:
    """Run `write` into a temp file next to `out`, fsync, rename; never leaves a partial file."""
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise IoError(f"cannot write {out}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w+b") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return Built(path=out, digest=sha256_file(out), size=out.stat().st_size)


def build_pack_dir(
    pack_dir: Path, out: Path, *, sign_key: Ed25519PrivateKey | None = None
) -> Built:
    """`gtc pack build DIR -o FILE`."""
    data = build_pack(load_pack_dir(pack_dir), sign_key=sign_key)
    return write_bytes_atomically(out, data)


def write_bytes_atomically(out: Path, data: bytes) -> Built:
    """`write_atomically` for an in-memory artifact."""

    def write(fh: BinaryIO) -> None:
        fh.write(data)

    return write_atomically(out, write)


def build_bundle_dir(root: Path, out: Path, *, sign_key: Ed25519PrivateKey | None = None) -> Built:
    """`gtc bundle build DIR -o FILE`: source packs are built (and signed), prebuilt ones copied."""
    src = load_bundle_dir(root)
    packs = {p.pack_id: build_pack(p, sign_key=sign_key) for p in src.packs}
    for pid, path in src.prebuilt.items():
        packs[pid] = read_source(path)
    entries = bundle_entries(
        bundle_id=src.bundle_id,
        bundle_name=src.bundle_name,
        bundle_yaml=src.bundle_yaml,
        packs=packs,
        pack_configs=src.pack_configs,
        assets=src.assets,
    )
    return write_atomically(out, lambda fh: write_zip(fh, entries))
