"""The local node's images without containerd: the scratch archive's structure (every digest
matches its blob, the layer holds the files with their modes, byte-identical on rewrite), docker
reference normalization, the pause build's command lines and the ctr/docker import commands
(harness.kube.local.images)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from harness.kube.commands import Completed
from harness.kube.local import build, images
from harness.kube.local.images import ImageFile
from tests.unit.harness.conftest import FakeRunner

ADDR = "/tmp/gtc-node/containerd.sock"


def write(tmp_path: Path, name: str = "img.tar", **kwargs: Any) -> Path:
    binary = tmp_path / "src-binary"
    if not binary.exists():
        tmp_path.mkdir(parents=True, exist_ok=True)
        binary.write_bytes(b"\x7fELF fake binary")
    files = kwargs.pop(
        "files",
        [
            ImageFile("/app", binary, 0o755),
            ImageFile("/etc/app/conf.txt", b"key = value\n", 0o644),
        ],
    )
    kwargs.setdefault("entrypoint", ["/app", "-v"])
    return images.scratch_archive(tmp_path / name, "greentic.local/app:1.0", files, **kwargs)


def members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else b"") for m in tar}  # type: ignore[union-attr]


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob(entries: dict[str, bytes], digest: str) -> bytes:
    data = entries[images.blob_path(digest)]
    assert sha(data) == digest  # every blob is stored under its own digest
    return data


def test_the_archive_is_an_oci_layout_whose_digests_and_sizes_match_the_blobs(
    tmp_path: Path,
) -> None:
    entries = members(write(tmp_path))
    assert json.loads(entries["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(entries["index.json"])
    assert index["mediaType"] == images.MEDIA_INDEX and len(index["manifests"]) == 1
    entry = index["manifests"][0]
    assert entry["annotations"] == {
        "io.containerd.image.name": "greentic.local/app:1.0",
        "org.opencontainers.image.ref.name": "1.0",
    }
    assert entry["platform"] == {"architecture": "amd64", "os": "linux"}
    manifest_bytes = blob(entries, entry["digest"])
    assert entry["size"] == len(manifest_bytes)
    manifest = json.loads(manifest_bytes)
    assert manifest["mediaType"] == entry["mediaType"] == images.MEDIA_MANIFEST
    config_bytes = blob(entries, manifest["config"]["digest"])
    assert manifest["config"]["size"] == len(config_bytes)
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
    assert layer["size"] == len(blob(entries, layer["digest"]))
    config = json.loads(config_bytes)
    assert (config["architecture"], config["os"]) == ("amd64", "linux")
    assert config["rootfs"] == {"type": "layers", "diff_ids": [layer["digest"]]}  # uncompressed
    assert config["config"] == {"Entrypoint": ["/app", "-v"], "User": "65535"}


def test_docker_manifest_json_names_the_ref_and_points_at_the_same_blobs(tmp_path: Path) -> None:
    entries = members(write(tmp_path))
    manifest = json.loads(
        blob(entries, json.loads(entries["index.json"])["manifests"][0]["digest"])
    )
    (docker,) = json.loads(entries["manifest.json"])
    assert docker["RepoTags"] == ["greentic.local/app:1.0"]
    assert docker["Config"] == images.blob_path(manifest["config"]["digest"])
    assert docker["Layers"] == [images.blob_path(manifest["layers"][0]["digest"])]


def test_the_layer_holds_the_files_with_their_modes_root_owned_at_mtime_zero(
    tmp_path: Path,
) -> None:
    entries = members(write(tmp_path))
    manifest = json.loads(
        blob(entries, json.loads(entries["index.json"])["manifests"][0]["digest"])
    )
    layer = blob(entries, manifest["layers"][0]["digest"])
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        found = {m.name: m for m in tar}
        assert list(found) == ["etc", "etc/app", "app", "etc/app/conf.txt"]  # dirs first
        assert found["etc/app"].isdir() and found["etc/app"].mode == 0o755
        assert found["app"].mode == 0o755 and found["etc/app/conf.txt"].mode == 0o644
        assert tar.extractfile("app").read() == b"\x7fELF fake binary"  # type: ignore[union-attr]
        assert tar.extractfile("etc/app/conf.txt").read() == b"key = value\n"  # type: ignore[union-attr]
        for m in found.values():
            assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", 0)


def test_the_outer_tar_is_sorted_with_fixed_headers(tmp_path: Path) -> None:
    with tarfile.open(write(tmp_path)) as tar:
        listed = tar.getmembers()
    names = [m.name for m in listed]
    assert names[:2] == ["blobs", "blobs/sha256"] and names[2:] == sorted(names[2:])
    assert names[-3:] == ["index.json", "manifest.json", "oci-layout"]
    assert all((m.mtime, m.uid, m.gid) == (0, 0, 0) for m in listed)


def test_the_same_inputs_give_a_byte_identical_archive_whatever_the_source_mtime(
    tmp_path: Path,
) -> None:
    first = write(tmp_path / "a").read_bytes()
    os.utime(tmp_path / "a" / "src-binary", (1, 1))  # the same bytes, another mtime
    again = write(tmp_path / "a", name="again.tar").read_bytes()
    elsewhere = write(tmp_path / "b").read_bytes()
    assert first == again == elsewhere
    changed = write(tmp_path / "c", user="65532").read_bytes()
    assert sha(changed) != sha(first)
    assert not list((tmp_path / "a").glob(".*"))  # no partial file or layer scratch left


def test_a_file_mode_change_changes_the_layer_digest(tmp_path: Path) -> None:
    def layer_digest(mode: int) -> str:
        out = io.BytesIO()
        images.write_layer(out, [ImageFile("/x", b"x", mode)])
        return sha(out.getvalue())

    assert layer_digest(0o755) != layer_digest(0o700)


def test_env_lands_in_the_config_when_given(tmp_path: Path) -> None:
    entries = members(write(tmp_path, env=["PATH=/"]))
    manifest = json.loads(
        blob(entries, json.loads(entries["index.json"])["manifests"][0]["digest"])
    )
    assert json.loads(blob(entries, manifest["config"]["digest"]))["config"]["Env"] == ["PATH=/"]


@pytest.mark.parametrize(
    "files",
    [
        [ImageFile("relative", b"")],
        [ImageFile("/a/../b", b"")],
        [ImageFile("/", b"")],
        [ImageFile("/a", b""), ImageFile("//a", b"")],
    ],
)
def test_bad_or_duplicate_image_paths_are_refused(tmp_path: Path, files: list[ImageFile]) -> None:
    with pytest.raises(ValueError):
        write(tmp_path, files=files)
    assert not (tmp_path / "img.tar").exists()


def test_a_missing_source_file_is_an_image_error(tmp_path: Path) -> None:
    with pytest.raises(images.ImageError, match="is not a file"):
        write(tmp_path, files=[ImageFile("/x", tmp_path / "nope")])


def test_an_archive_needs_an_entrypoint_and_a_tag(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="entrypoint"):
        write(tmp_path, entrypoint=[])
    with pytest.raises(ValueError, match="digest"):
        images.scratch_archive(
            tmp_path / "x.tar", "x@sha256:" + "0" * 64, [ImageFile("/x", b"")], entrypoint=["/x"]
        )


@pytest.mark.parametrize(
    ("ref", "normalized"),
    [
        ("gtc-runtime:abc", "docker.io/library/gtc-runtime:abc"),
        ("busybox", "docker.io/library/busybox:latest"),
        ("team/app:1", "docker.io/team/app:1"),
        ("greentic.local/pause:3.10", "greentic.local/pause:3.10"),
        ("localhost/x:1", "localhost/x:1"),
        ("127.0.0.1:5000/ns/x:2", "127.0.0.1:5000/ns/x:2"),
        ("localhost:5000/x", "localhost:5000/x:latest"),
        ("x@sha256:" + "a" * 64, "docker.io/library/x@sha256:" + "a" * 64),
    ],
)
def test_references_normalize_as_containerd_stores_them(ref: str, normalized: str) -> None:
    assert images.normalize_ref(ref) == normalized


def test_ctr_argv_names_the_socket_and_the_cri_namespace() -> None:
    assert images.ctr_argv(ADDR, "images", "ls") == [
        "ctr", "-a", ADDR, "-n", "k8s.io", "images", "ls",
    ]  # fmt: skip
    assert images.ctr_argv(ADDR, "x", namespace="other")[4] == "other"


def test_the_refs_are_the_ones_the_node_config_names() -> None:
    assert images.PAUSE_REF == "greentic.local/pause:3.10"
    coredns_tag = build.DEFAULT_COREDNS.removeprefix("v")
    assert f"greentic.local/coredns:{coredns_tag}" == images.COREDNS_REF


def fake_modcache(tmp_path: Path, version: str) -> Path:
    source = images.pause_source(tmp_path / "modcache", version)
    source.parent.mkdir(parents=True)
    source.write_text("int main(void) { return 0; }\n")
    return source


def gcc_writes_output(argv: tuple[str, ...], _input: str | None) -> Completed:
    Path(argv[argv.index("-o") + 1]).write_bytes(b"pause-binary")
    return Completed(argv, 0)


def test_build_pause_compiles_the_module_cache_source_static(
    tmp_path: Path, cmd: FakeRunner
) -> None:
    source = fake_modcache(tmp_path, "v1.33.13")
    cmd.on("go", "env", "GOMODCACHE", stdout=f"{tmp_path / 'modcache'}\n")
    cmd.answer("gcc", fn=gcc_writes_output)
    out = images.build_pause(tmp_path / "work", "v1.33.13", runner=cmd)
    assert out == tmp_path / "work" / "pause" and out.read_bytes() == b"pause-binary"
    gcc = cmd.argvs()[1]
    assert gcc[:5] == ["gcc", "-Os", "-Wall", "-static", "-s"]
    assert "-DVERSION=v3.10-v1.33.13" in gcc and gcc[-1] == str(source)
    assert str(source).endswith("k8s.io/kubernetes@v1.33.13/build/pause/linux/pause.c")


def test_pause_archive_is_the_binary_at_slash_pause_named_for_the_sandbox_image(
    tmp_path: Path, cmd: FakeRunner
) -> None:
    fake_modcache(tmp_path, build.DEFAULT_KUBERNETES)
    cmd.on("go", "env", "GOMODCACHE", stdout=str(tmp_path / "modcache"))
    cmd.answer("gcc", fn=gcc_writes_output)
    archive, ref = images.pause_archive(tmp_path / "work", runner=cmd)
    assert ref == images.PAUSE_REF and archive == tmp_path / "work" / "pause.tar"
    index = json.loads(members(archive)["index.json"])
    assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == ref


def test_build_pause_without_the_module_says_how_to_get_it(tmp_path: Path, cmd: FakeRunner) -> None:
    cmd.on("go", "env", "GOMODCACHE", stdout=str(tmp_path / "empty"))
    with pytest.raises(
        images.ImageError, match=r"harness\.kube\.local\.build --version v1\.33\.13"
    ):
        images.build_pause(tmp_path / "work", "v1.33.13", runner=cmd)


def test_a_failed_compile_names_the_command_and_the_fix(tmp_path: Path, cmd: FakeRunner) -> None:
    fake_modcache(tmp_path, "v1.33.13")
    cmd.on("go", "env", "GOMODCACHE", stdout=str(tmp_path / "modcache"))
    cmd.on("gcc", rc=1, stderr="cannot find -lc")
    with pytest.raises(images.ImageError, match=r"(?s)cannot find -lc.*libc6-dev"):
        images.build_pause(tmp_path / "work", "v1.33.13", runner=cmd)
    assert not (tmp_path / "work" / "pause").exists()


def test_coredns_archive_wraps_the_cached_binary(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "coredns").write_bytes(b"coredns")
    archive, ref = images.coredns_archive(tmp_path / "work", tmp_path / "bin")
    assert ref == images.COREDNS_REF
    entries = members(archive)
    manifest = json.loads(
        blob(entries, json.loads(entries["index.json"])["manifests"][0]["digest"])
    )
    config = json.loads(blob(entries, manifest["config"]["digest"]))
    assert config["config"] == {"Entrypoint": ["/coredns"], "User": "65535"}
    layer = blob(entries, manifest["layers"][0]["digest"])
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        assert tar.getnames() == ["coredns"] and tar.getmember("coredns").mode == 0o755


def test_coredns_archive_without_the_binary_says_to_build(tmp_path: Path) -> None:
    with pytest.raises(images.ImageError, match=r"harness\.kube\.local\.build"):
        images.coredns_archive(tmp_path / "work", tmp_path / "bin")


def test_import_archive_runs_ctr_import_then_checks_the_name(cmd: FakeRunner) -> None:
    cmd.on(*images.ctr_argv(ADDR, "images", "ls", "-q"), stdout="greentic.local/pause:3.10\n")
    images.import_archive(ADDR, Path("/w/pause.tar"), runner=cmd, expect=images.PAUSE_REF)
    assert cmd.argvs() == [
        images.ctr_argv(ADDR, "images", "import", "/w/pause.tar"),
        images.ctr_argv(ADDR, "images", "ls", "-q"),
    ]


def test_an_import_that_names_nothing_is_an_error(cmd: FakeRunner) -> None:
    cmd.on(*images.ctr_argv(ADDR, "images", "ls", "-q"), stdout="import-2026-12-04:3.10\n")
    with pytest.raises(images.ImageError, match=r"named no image greentic\.local/pause:3\.10"):
        images.import_archive(ADDR, Path("/w/p.tar"), runner=cmd, expect=images.PAUSE_REF)


def test_a_failed_import_names_the_socket(cmd: FakeRunner) -> None:
    cmd.on("ctr", rc=1, stderr="connection refused")
    with pytest.raises(images.ImageError, match=f"(?s)connection refused.*{ADDR}"):
        images.import_archive(ADDR, Path("/w/p.tar"), runner=cmd)


def test_import_docker_image_saves_imports_and_returns_the_tag_pods_name(cmd: FakeRunner) -> None:
    ls = images.ctr_argv(ADDR, "images", "ls", "-q")
    cmd.on(*ls, stdout="docker.io/library/gtc-runtime:abc\n")
    assert images.import_docker_image(ADDR, "gtc-runtime:abc", runner=cmd) == "gtc-runtime:abc"
    save, imported, listed = cmd.argvs()
    assert save[:3] == ["docker", "save", "-o"] and save[-1] == "gtc-runtime:abc"
    assert imported == images.ctr_argv(ADDR, "images", "import", save[3])
    assert listed == ls
    assert not Path(save[3]).parent.exists()  # the temporary archive is gone


def test_import_docker_image_of_a_missing_tag_says_to_build_it(cmd: FakeRunner) -> None:
    cmd.on("docker", "save", rc=1, stderr="reference does not exist")
    with pytest.raises(images.ImageError, match="docker image inspect gtc-runtime:x"):
        images.import_docker_image(ADDR, "gtc-runtime:x", runner=cmd)
    assert len(cmd.calls) == 1
