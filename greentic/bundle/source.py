"""The authoring layout read by `gtc bundle build DIR` and `gtc pack build DIR`.

    DIR/bundle.yaml                        bundle_id, bundle_name (+ description, locale, …)
    DIR/packs/<pack_id>/pack.yaml          pack_id, version (+ description, components)
    DIR/packs/<pack_id>/flows/<id>.ygtc    one flow per file; `id` equals the file stem
    DIR/packs/<pack_id>.gtpack             a prebuilt (e.g. signed) pack, included verbatim
    DIR/state/pack-configs/<pack_id>.json  optional pack-config input
    DIR/assets/**                          optional bundle-level assets, copied as-is

Full description in docs/bundle-format.md. Loading is the only I/O here; it returns plain
data for the pure builder. Below DIR nothing is a symlink and every file read is a regular
file (no FIFO, no device): a link would embed whatever it points at in the artifact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from greentic.bundle.flows import check_flow
from greentic.bundle.manifest import FlowEntry, check_id
from greentic.errors import IoError, NotFound, SpecError
from greentic.flow import compiler
from greentic.store.files import read_regular

BUNDLE_KEYS = frozenset({"bundle_id", "bundle_name", "description", "locale", "tenant", "team"})
PACK_KEYS = frozenset({"pack_id", "version", "description", "components"})


@dataclass(frozen=True)
class PackSource:
    """A pack's sources: id, version, components, and its flows (id → YAML text + entry)."""

    pack_id: str
    version: str
    components: list[dict[str, Any]]
    flows: dict[str, str]
    entries: list[FlowEntry]


@dataclass(frozen=True)
class BundleSource:
    """Everything `build_bundle` needs, read from an authoring directory."""

    bundle_id: str
    bundle_name: str
    bundle_yaml: bytes
    packs: list[PackSource] = field(default_factory=list)
    prebuilt: dict[str, Path] = field(default_factory=dict)
    pack_configs: dict[str, bytes] = field(default_factory=dict)
    assets: list[tuple[str, Path]] = field(default_factory=list)


LINK_FIX = "replace the symlink with a copy of the file or directory it points at"


def no_link(path: Path) -> Path:
    """`path`, or a SpecError when it is a symlink (a bundle source never follows one)."""
    if path.is_symlink():
        raise SpecError(f"{path}: symlinks are not allowed in bundle sources", hint=LINK_FIX)
    return path


def read_source(path: Path) -> bytes:
    """A source file's bytes: a regular file, not a symlink (refusals name the path)."""
    try:
        return read_regular(no_link(path), what="bundle source file", error=SpecError)
    except FileNotFoundError:
        raise NotFound(f"{path} does not exist") from None
    except OSError as exc:
        raise IoError(f"cannot read {path}: {exc.strerror or exc}") from None


def _yaml_mapping(path: Path, allowed: frozenset[str]) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(read_source(path))
    except yaml.YAMLError:
        raise SpecError(f"{path}: not valid YAML") from None
    if not isinstance(doc, dict):
        raise SpecError(f"{path}: expected a YAML mapping")
    unknown = sorted(set(map(str, doc)) - allowed)
    if unknown:
        raise SpecError(
            f"{path}: unknown key `{unknown[0]}` (allowed: {', '.join(sorted(allowed))})"
        )
    return doc


def _required_str(doc: dict[str, Any], key: str, path: Path) -> str:
    value = doc.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "version":
        value = str(value)
    if not isinstance(value, str) or not value:
        raise SpecError(f"{path}: `{key}` is required (a non-empty string)")
    return value


def _required_id(doc: dict[str, Any], key: str, path: Path) -> str:
    """`_required_str` that must also be a valid id (`pack_id`, `bundle_id`)."""
    value = _required_str(doc, key, path)
    try:
        return check_id(value, key)
    except ValueError as exc:
        raise SpecError(f"{path}: {exc}") from None


def load_pack_dir(pack_dir: Path) -> PackSource:
    """Read `pack_dir/pack.yaml` and `pack_dir/flows/*.ygtc`, validating every flow."""
    if not no_link(pack_dir).is_dir():
        raise NotFound(f"pack source directory {pack_dir} does not exist")
    meta_path = pack_dir / "pack.yaml"
    meta = _yaml_mapping(meta_path, PACK_KEYS)
    pack_id = _required_id(meta, "pack_id", meta_path)
    if pack_id != pack_dir.name:
        raise SpecError(
            f"{meta_path}: pack_id `{pack_id}` must equal its directory name `{pack_dir.name}`"
        )
    components = meta.get("components", [])
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        raise SpecError(f"{meta_path}: `components` must be a list of mappings")
    flow_files = sorted(no_link(pack_dir / "flows").glob("*.ygtc"))
    if not flow_files:
        raise SpecError(f"pack `{pack_id}` has no flows; add {pack_dir}/flows/<id>.ygtc")
    flows: dict[str, str] = {}
    entries: list[FlowEntry] = []
    for f in flow_files:
        if not no_link(f).is_file():
            raise SpecError(f"{f}: flows must be regular files")
        try:
            text = read_source(f).decode("utf-8")
        except UnicodeDecodeError:
            raise SpecError(f"{f}: not UTF-8 text") from None
        entries.append(check_flow(text, flow_id=f.stem, what=str(f)))
        compiler.compile_flow(text, what=str(f))  # the worker's own rules, at build time
        flows[f.stem] = text
    return PackSource(
        pack_id=pack_id,
        version=_required_str(meta, "version", meta_path),
        components=components,
        flows=flows,
        entries=entries,
    )


def _assets(root: Path) -> list[tuple[str, Path]]:
    base = no_link(root / "assets")
    if not base.is_dir():
        return []
    out: list[tuple[str, Path]] = []
    for p in sorted(base.rglob("*")):
        if no_link(p).is_file():
            out.append((p.relative_to(root).as_posix(), p))
    return out


def load_bundle_dir(root: Path) -> BundleSource:
    """Read an authoring directory (layout in the module docstring)."""
    if not root.is_dir():
        raise NotFound(f"bundle source directory {root} does not exist")
    meta_path = root / "bundle.yaml"
    raw = read_source(meta_path)
    meta = _yaml_mapping(meta_path, BUNDLE_KEYS)
    bundle_id = _required_id(meta, "bundle_id", meta_path)
    packs_dir = no_link(root / "packs")
    entries = sorted(no_link(d) for d in packs_dir.iterdir()) if packs_dir.is_dir() else []
    packs = [load_pack_dir(d) for d in entries if d.is_dir()]
    prebuilt = {p.stem: p for p in entries if p.suffix == ".gtpack" and p.is_file()}
    both = sorted({p.pack_id for p in packs} & prebuilt.keys())
    if both:
        raise SpecError(
            f"{packs_dir}: pack `{both[0]}` is both a source dir and a prebuilt .gtpack"
        )
    if not packs and not prebuilt:
        raise SpecError(f"bundle `{bundle_id}` has no packs; add {packs_dir}/<pack_id>/pack.yaml")
    configs_dir = no_link(no_link(root / "state") / "pack-configs")
    configs = (
        {p.stem: read_source(p) for p in sorted(configs_dir.glob("*.json"))}
        if configs_dir.is_dir()
        else {}
    )
    return BundleSource(
        bundle_id=bundle_id,
        bundle_name=_required_str(meta, "bundle_name", meta_path),
        bundle_yaml=raw,
        packs=packs,
        prebuilt=prebuilt,
        pack_configs=configs,
        assets=_assets(root),
    )
