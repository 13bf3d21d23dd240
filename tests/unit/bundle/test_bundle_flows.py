"""Build-time flow checks and the pack/bundle readers' manifest rules."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from bundle_testlib import fixture

from greentic.bundle import reader
from greentic.bundle.archive import Entry, zip_bytes
from greentic.bundle.build import bundle_entries, pack_bytes
from greentic.bundle.flows import check_flow, parse_flow_source
from greentic.bundle.manifest import FlowEntry, PackManifest
from greentic.errors import SpecError


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: [", "not valid YAML at line 1"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("type: messaging\n", "missing `id`"),
        ("id: main\nnodes: [a, b]\n", "`nodes` must be a mapping"),
        ("id: main\nnodes:\n  a: 3\n", "node `a` must be a mapping"),
        ("id: main\nstart: nope\nnodes:\n  a: {emit.log: {}}\n", "`start` names node `nope`"),
        ("id: ../x\n", "flow id `../x`"),
    ],
)
def test_bad_flow_sources_are_refused(text: str, message: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_flow_source(text, what="flows/main.ygtc")
    assert message in err.value.message
    assert err.value.message.startswith("flows/main.ygtc: ")


def test_flow_entry_and_id_must_match_file() -> None:
    entry = check_flow(
        "id: main\ntype: webhook\nentrypoints: {http:/x: a, default: a}\n"
        "nodes:\n  a: {emit.log: {}}\n",
        flow_id="main",
        what="f",
    )
    assert entry == FlowEntry(id="main", kind="webhook", entrypoints=["default", "http:/x"])
    assert check_flow("id: main\n", flow_id="main", what="f").kind == "messaging"
    with pytest.raises(SpecError, match="file is named `other`"):
        check_flow("id: main\n", flow_id="other", what="f")


def test_pack_reader_requires_listed_flows_and_refuses_stray_ones() -> None:
    m = PackManifest(pack_id="p", version="1", flows=[FlowEntry(id="main")])
    ok = pack_bytes(m, {"main": "id: main\n"})
    assert reader.read_pack(ok, what="p").flows == {"main": "id: main\n"}
    missing = zip_bytes([Entry("manifest.json", _manifest_json(m))])
    with pytest.raises(SpecError, match=r"`flows/main\.ygtc` is missing"):
        reader.read_pack(missing, what="p")
    stray = zip_bytes(
        [
            Entry("manifest.json", _manifest_json(m)),
            Entry("flows/main.ygtc", b"id: main\n"),
            Entry("flows/x.ygtc", b"id: x\n"),
        ]
    )
    with pytest.raises(SpecError, match=r"`flows/x\.ygtc` is not a flow listed"):
        reader.read_pack(stray, what="p")
    unknown = zip_bytes(
        [
            Entry(
                "manifest.json",
                b'{"schema_version":"pack-v1","pack_id":"p","version":"1","extra":1}',
            )
        ]
    )
    with pytest.raises(SpecError, match="unknown key `extra`"):
        reader.read_pack(unknown, what="p")


def _manifest_json(m: PackManifest) -> bytes:
    from greentic.bundle.manifest import to_file_bytes

    return to_file_bytes(m)


def test_bundle_reader_checks_pack_digests(tmp_path: Path) -> None:
    src = fixture("webchat-bot.gtbundle")
    with zipfile.ZipFile(src) as zf:
        entries = {i.filename: zf.read(i) for i in zf.infolist()}
    tampered_pack = pack_bytes(
        PackManifest(pack_id="webchat-bot", version="1.0.0", flows=[FlowEntry(id="main")]),
        {"main": "id: main\n"},
    )
    entries["packs/webchat-bot.gtpack"] = tampered_pack
    path = tmp_path / "t.gtbundle"
    path.write_bytes(zip_bytes([Entry(n, d) for n, d in entries.items()]))
    with pytest.raises(SpecError, match=r"bundle-manifest\.json pins"):
        reader.read_bundle(path)


def test_bundle_entries_refuse_mismatched_pack_ids() -> None:
    data = pack_bytes(
        PackManifest(pack_id="a", version="1", flows=[FlowEntry(id="main")]), {"main": "id: main\n"}
    )
    with pytest.raises(SpecError, match="holds pack `a`"):
        bundle_entries(bundle_id="b", bundle_name="B", bundle_yaml=b"", packs={"b": data})
    zipped = zip_bytes(
        bundle_entries(bundle_id="b", bundle_name="B", bundle_yaml=b"x: 1\n", packs={"a": data})
    )
    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        assert zf.namelist() == ["bundle-manifest.json", "bundle.yaml", "packs/a.gtpack"]
