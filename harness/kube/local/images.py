"""Images for the local node without any registry: scratch archives written in Python, imported.

The node's containerd (1.6, CRI plugin) can pull nothing, so every image a pod names must be
imported with `ctr -n k8s.io images import`. `scratch_archive` writes a `FROM scratch`-like image
as an OCI image-layout tar (one uncompressed layer, fixed mtimes and owners, sorted entries), so
the same inputs always give the same digests. The pause image is Kubernetes' own `pause.c`
compiled static with gcc; CoreDNS is the binary the build cache made.

Naming, as `ctr images import` of Debian's containerd 1.6.20 behaved (tried by hand, and
tests/integration/test_local_node_images.py imports into a throwaway containerd):
- with an `oci-layout` file the importer reads only `index.json`; docker's `manifest.json` is
  written too so that `docker load` also accepts the archive.
- ctr names each index entry from its `io.containerd.image.name` annotation; without it, from a
  full `org.opencontainers.image.ref.name`; a bare tag there becomes `import-<date>:<tag>`; no
  annotation names nothing *and ctr still exits 0*. The archive sets both annotations (full name,
  tag), like `docker save` 25+, and `import_archive(expect=...)` checks the name afterwards.
- `docker save` 20.10 writes docker's format only; the importer normalizes its RepoTags
  (`gtc-runtime:abc` → `docker.io/library/gtc-runtime:abc`). The kubelet passes a pod's image
  string to the CRI, whose local lookup normalizes it the same way (containerd's `localResolve`
  parses it as a docker reference), so a pod may name the short tag: `import_docker_image`
  returns the tag unchanged.
- the import unpacks into containerd's default snapshotter (the node's config: overlayfs), which
  the CRI needs to create a container; `--no-unpack` is never used. One uncompressed layer keeps
  digests independent of the zlib build (the content store keeps the tar as is).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from harness.errors import HarnessError
from harness.kube.commands import Completed, Runner, SubprocessRunner
from harness.kube.local import build

NAMESPACE = "k8s.io"  # the CRI plugin's containerd namespace
PAUSE_TAG = "3.10"
PAUSE_REF = f"greentic.local/pause:{PAUSE_TAG}"
COREDNS_REF = f"greentic.local/coredns:{build.DEFAULT_COREDNS.removeprefix('v')}"
MTIME = 0  # every tar entry, so digests do not depend on when or where the image was written
IMPORT_TIMEOUT_S = 300.0
SAVE_TIMEOUT_S = 600.0
TOOL_TIMEOUT_S = 120.0
CTR_FIX = "install containerd (Debian: `apt-get install containerd`, or docker.io which pulls it)"
GCC_FIX = "install gcc and glibc's static libc (Debian: `apt-get install gcc libc6-dev`)"

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
ANNOTATION_NAME = "io.containerd.image.name"
ANNOTATION_REF = "org.opencontainers.image.ref.name"


class ImageError(HarnessError):
    """An image for the local node could not be built or imported; the message says the fix."""


@dataclass(frozen=True)
class ImageFile:
    """One regular file of an image: absolute path in the image, content (bytes or a file), mode."""

    path: str
    source: bytes | Path
    mode: int = 0o755


def ctr_argv(address: str, *args: str, namespace: str = NAMESPACE) -> list[str]:
    """`ctr` against one containerd socket and namespace (never the host's default socket)."""
    return ["ctr", "-a", address, "-n", namespace, *args]


def normalize_ref(ref: str) -> str:
    """The name containerd stores for `ref`, by docker's rules (`x:1` → `docker.io/library/x:1`)."""
    if not ref or ref != ref.strip() or " " in ref:
        raise ValueError(f"not an image reference: {ref!r}")
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain, remainder = first, rest
    else:
        domain, remainder = "docker.io", ref
    if domain == "docker.io" and "/" not in remainder:
        remainder = f"library/{remainder}"
    last = remainder.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in last:
        remainder += ":latest"
    return f"{domain}/{remainder}"


def tag_of(ref: str) -> str:
    """The tag of a reference (`greentic.local/pause:3.10` → `3.10`); digests cannot name one."""
    if "@" in ref:
        raise ValueError(f"a written image is named by a tag, not a digest: {ref!r}")
    return normalize_ref(ref).rsplit("/", 1)[-1].rsplit(":", 1)[1]


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no spaces: one byte string, hence one digest, per document."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, digest: str, size: int, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size, **extra}


def image_config(
    diff_id: str, *, entrypoint: Sequence[str], user: str, env: Sequence[str]
) -> dict[str, Any]:
    """An OCI image config for linux/amd64 with one layer (`diff_id`: its uncompressed digest)."""
    config: dict[str, Any] = {"Entrypoint": list(entrypoint), "User": user}
    if env:
        config["Env"] = list(env)
    return {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "greentic scratch_archive"}],
    }


def image_manifest(config: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": config, "layers": [layer]}


def image_index(manifest: dict[str, Any], ref: str) -> dict[str, Any]:
    """index.json: the manifest named by both annotations (see the module docstring for why)."""
    named = {
        **manifest,
        "annotations": {ANNOTATION_NAME: normalize_ref(ref), ANNOTATION_REF: tag_of(ref)},
        "platform": {"architecture": "amd64", "os": "linux"},
    }
    return {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [named]}


def docker_manifest(config_digest: str, layer_digest: str, ref: str) -> list[dict[str, Any]]:
    """docker's manifest.json (what `docker load` reads; containerd prefers the OCI index)."""
    return [
        {
            "Config": blob_path(config_digest),
            "RepoTags": [ref],
            "Layers": [blob_path(layer_digest)],
        }
    ]


def blob_path(digest: str) -> str:
    algorithm, hexdigest = digest.split(":", 1)
    return f"blobs/{algorithm}/{hexdigest}"


def layer_dirs(files: Sequence[ImageFile]) -> list[str]:
    """Every parent directory the files need, as tar names (`etc/`, `etc/coredns/`), sorted."""
    dirs: set[str] = set()
    for item in files:
        for parent in PurePosixPath(_member(item.path)).parents:
            if str(parent) != ".":
                dirs.add(f"{parent}/")
    return sorted(dirs)


def _member(path: str) -> str:
    pure = PurePosixPath(path)
    if not pure.is_absolute() or ".." in pure.parts or str(pure) == "/":
        raise ValueError(f"image file path must be absolute and plain, got {path!r}")
    return str(pure.relative_to("/"))


def _header(
    name: str, *, size: int = 0, mode: int = 0o644, is_dir: bool = False
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.size = 0 if is_dir else size
    info.mode = mode
    info.mtime = MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _sources(files: Sequence[ImageFile]) -> Iterator[tuple[str, ImageFile]]:
    names = [_member(item.path) for item in files]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate image file paths: {sorted(names)}")
    yield from sorted(zip(names, files, strict=True))


def write_layer(out: IO[bytes], files: Sequence[ImageFile]) -> None:
    """One uncompressed layer tar: parent dirs 0755, then the files, all root-owned, mtime 0."""
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in layer_dirs(files):
            tar.addfile(_header(name, mode=0o755, is_dir=True))
        for name, item in _sources(files):
            if isinstance(item.source, bytes):
                tar.addfile(
                    _header(name, size=len(item.source), mode=item.mode), io.BytesIO(item.source)
                )
                continue
            if not item.source.is_file():
                raise ImageError(f"image file {item.path}: source {item.source} is not a file")
            with item.source.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                tar.addfile(_header(name, size=size, mode=item.mode), handle)


def _file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest(), path.stat().st_size


def scratch_archive(
    dest: Path,
    ref: str,
    files: Sequence[ImageFile],
    *,
    entrypoint: Sequence[str],
    user: str = "65535",
    env: Sequence[str] = (),
) -> Path:
    """Write a one-layer linux/amd64 image named `ref` as an OCI layout tar at `dest`; `dest`.

    Deterministic: the same files, ref, entrypoint, user and env give byte-identical archives.
    """
    if not entrypoint:
        raise ValueError("a scratch image needs an entrypoint")
    tag_of(ref)  # a bad ref fails here, before anything is written
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".layer-") as scratch:
        layer_file = Path(scratch) / "layer.tar"
        with layer_file.open("wb") as out:
            write_layer(out, files)
        layer_digest, layer_size = _file_digest(layer_file)
        config = canonical_json(
            image_config(layer_digest, entrypoint=entrypoint, user=user, env=env)
        )
        manifest = canonical_json(
            image_manifest(
                descriptor(MEDIA_CONFIG, sha256(config), len(config)),
                descriptor(MEDIA_LAYER, layer_digest, layer_size),
            )
        )
        small = {
            blob_path(sha256(config)): config,
            blob_path(sha256(manifest)): manifest,
            "index.json": canonical_json(
                image_index(descriptor(MEDIA_MANIFEST, sha256(manifest), len(manifest)), ref)
            ),
            "manifest.json": canonical_json(docker_manifest(sha256(config), layer_digest, ref)),
            "oci-layout": canonical_json({"imageLayoutVersion": "1.0.0"}),
        }
        partial = dest.with_name(f".{dest.name}.partial")
        with tarfile.open(partial, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(_header("blobs/", mode=0o755, is_dir=True))
            tar.addfile(_header("blobs/sha256/", mode=0o755, is_dir=True))
            for name in sorted([*small, blob_path(layer_digest)]):
                if name in small:
                    tar.addfile(_header(name, size=len(small[name])), io.BytesIO(small[name]))
                else:
                    with layer_file.open("rb") as handle:
                        tar.addfile(_header(name, size=layer_size), handle)
        os.replace(partial, dest)
    return dest


def _check(result: Completed, fix: str) -> Completed:
    """`result` if it succeeded, else an ImageError with the command, its output tail, the fix."""
    if result.ok:
        return result
    tail = (result.stderr or result.stdout).strip()[-400:]
    raise ImageError(
        f"`{' '.join(result.argv)}` failed (exit {result.returncode}): {tail or 'no output'}\n"
        f"Fix: {fix}"
    )


def _runner(runner: Runner | None) -> Runner:
    return runner if runner is not None else SubprocessRunner()


def pause_source(modcache: Path, version: str) -> Path:
    """Where the Go module cache keeps Kubernetes' pause.c for `version` (read-only files)."""
    return modcache / "k8s.io" / f"kubernetes@{version}" / "build" / "pause" / "linux" / "pause.c"


def pause_gcc_argv(source: Path, out: Path, version: str) -> list[str]:
    """gcc flags as upstream's pause Makefile (-Os -static, VERSION stringified by pause.c; -s
    strips like its separate strip step); no -Werror, so a newer compiler's warning cannot fail."""
    return [
        "gcc",
        "-Os",
        "-Wall",
        "-static",
        "-s",
        f"-DVERSION=v{PAUSE_TAG}-{version}",
        "-o",
        str(out),
        str(source),
    ]


def build_pause(
    work: Path, version: str = build.DEFAULT_KUBERNETES, *, runner: Runner | None = None
) -> Path:
    """Compile the pause binary of k8s.io/kubernetes@`version` into `work/pause`; its path."""
    run = _runner(runner)
    found = _check(
        run.run(["go", "env", "GOMODCACHE"], timeout=TOOL_TIMEOUT_S), build.GO_FIX
    ).stdout.strip()
    source = pause_source(Path(found), version)
    if not source.is_file():
        raise ImageError(
            f"{source} is missing: k8s.io/kubernetes@{version} is not in the Go module cache\n"
            f"Fix: run `python -m harness.kube.local.build --version {version}` (or "
            f"`go mod download k8s.io/kubernetes@{version}`)"
        )
    work.mkdir(parents=True, exist_ok=True)
    out = work / "pause"
    partial = work / ".pause.partial"
    _check(run.run(pause_gcc_argv(source, partial, version), timeout=TOOL_TIMEOUT_S), GCC_FIX)
    os.replace(partial, out)
    return out


def pause_archive(
    work: Path, version: str = build.DEFAULT_KUBERNETES, *, runner: Runner | None = None
) -> tuple[Path, str]:
    """The pause image (`/pause`, user 65535, as upstream's Dockerfile) archive and its ref."""
    binary = build_pause(work, version, runner=runner)
    files = [ImageFile("/pause", binary, 0o755)]
    archive = scratch_archive(work / "pause.tar", PAUSE_REF, files, entrypoint=["/pause"])
    return archive, PAUSE_REF


def coredns_archive(work: Path, bin_dir: Path) -> tuple[Path, str]:
    """The cached static `coredns` binary as a scratch image (`/coredns`, user 65535), its ref."""
    binary = bin_dir / "coredns"
    if not binary.is_file():
        raise ImageError(
            f"{binary} is missing\nFix: run `python -m harness.kube.local.build` to build CoreDNS"
        )
    files = [ImageFile("/coredns", binary, 0o755)]
    archive = scratch_archive(work / "coredns.tar", COREDNS_REF, files, entrypoint=["/coredns"])
    return archive, COREDNS_REF


def image_names(address: str, *, runner: Runner) -> list[str]:
    """Every image name in the node's k8s.io namespace (`ctr images ls -q`)."""
    result = runner.run(ctr_argv(address, "images", "ls", "-q"), timeout=TOOL_TIMEOUT_S)
    return [line.strip() for line in _check(result, CTR_FIX).stdout.splitlines() if line.strip()]


def import_archive(
    containerd_address: str, archive: Path, *, runner: Runner, expect: str | None = None
) -> None:
    """`ctr images import` (unpacked for the default snapshotter, as the CRI needs) into k8s.io.

    With `expect`, the imported name is checked: ctr exits 0 even when it names nothing.
    """
    argv = ctr_argv(containerd_address, "images", "import", str(archive))
    fix = f"check that containerd answers on {containerd_address} and that {archive} is an image"
    _check(runner.run(argv, timeout=IMPORT_TIMEOUT_S), fix)
    if expect is not None:
        wanted = normalize_ref(expect)
        if wanted not in image_names(containerd_address, runner=runner):
            raise ImageError(
                f"`{' '.join(argv)}` named no image {wanted}\n"
                "Fix: name the image in the archive (index.json's io.containerd.image.name "
                "annotation, or docker's RepoTags)"
            )


def import_docker_image(containerd_address: str, tag: str, *, runner: Runner) -> str:
    """`docker save tag` into the node's containerd; the name a pod should use (`tag` itself)."""
    with tempfile.TemporaryDirectory(prefix="gtc-image-") as scratch:
        archive = Path(scratch) / "image.tar"
        _check(
            runner.run(["docker", "save", "-o", str(archive), tag], timeout=SAVE_TIMEOUT_S),
            f"build or load the image first (`docker image inspect {tag}` must find it)",
        )
        import_archive(containerd_address, archive, runner=runner, expect=tag)
    return tag
