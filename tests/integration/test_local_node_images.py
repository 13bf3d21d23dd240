"""The local node's images in a real containerd: the archives `harness.kube.local.images` writes
are accepted by Debian's containerd 1.6 `ctr images import`, named as the node expects, and
unpacked (a committed snapshot), and `docker save` images land under their normalized name.

Each module run starts a throwaway containerd with its own root, state and socket under a pytest
temporary directory and the CRI plugin disabled: no network setup, no host socket. Docker's own
containerd (/run/containerd/containerd.sock) is never used. Skipped without /usr/bin/containerd,
/usr/bin/ctr or root.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.kube.commands import SubprocessRunner
from harness.kube.local import build, images

CONTAINERD = Path("/usr/bin/containerd")
CTR = Path("/usr/bin/ctr")
pytestmark = [
    pytest.mark.skipif(
        not (CONTAINERD.exists() and CTR.exists()),
        reason="needs Debian's containerd (/usr/bin/containerd and /usr/bin/ctr)",
    ),
    pytest.mark.skipif(os.geteuid() != 0, reason="a containerd daemon needs root"),
]
RUNNER = SubprocessRunner()
# The plugins that would reach outside the test directory or need hardware are off; CRI is off
# so no network is configured.
DISABLED = [
    "io.containerd.grpc.v1.cri",
    "io.containerd.internal.v1.opt",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
]


def config(directory: Path, socket: Path) -> str:
    return "\n".join(
        [
            "version = 2",
            f'root = "{directory / "root"}"',
            f'state = "{directory / "state"}"',
            f"disabled_plugins = {DISABLED!r}".replace("'", '"'),
            "[grpc]",
            f'  address = "{socket}"',
            "[ttrpc]",
            f'  address = "{socket}.ttrpc"',
            "",
        ]
    )


def mounts_under(directory: Path) -> list[str]:
    text = Path("/proc/self/mountinfo").read_text()
    return [line for line in text.splitlines() if str(directory) in line]


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private containerd; its socket address. Stopped (and checked for mounts) afterwards."""
    directory = tmp_path_factory.mktemp("ctrd")
    socket = directory / "c.sock"
    assert len(f"{socket}.ttrpc") < 100, "unix socket path too long for this tmp dir"
    (directory / "config.toml").write_text(config(directory, socket))
    with (directory / "containerd.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(CONTAINERD), "--config", str(directory / "config.toml")],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while not RUNNER.run(images.ctr_argv(str(socket), "version"), timeout=10).ok:
            assert proc.poll() is None, (directory / "containerd.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "containerd did not answer within 30 s"
            time.sleep(0.2)
        yield str(socket)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
    assert mounts_under(directory) == []  # unpacking left no mount behind


def snapshots(address: str) -> str:
    return RUNNER.run(images.ctr_argv(address, "snapshots", "ls"), timeout=30).stdout


def pause_source_or_skip() -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    modcache = RUNNER.run(["go", "env", "GOMODCACHE"], timeout=60).stdout.strip()
    if not images.pause_source(Path(modcache), build.DEFAULT_KUBERNETES).is_file():
        pytest.skip(f"k8s.io/kubernetes@{build.DEFAULT_KUBERNETES} is not in the Go module cache")


def test_the_pause_archive_imports_under_the_sandbox_image_name_unpacked(
    containerd: str, tmp_path: Path
) -> None:
    pause_source_or_skip()
    archive, ref = images.pause_archive(tmp_path)
    version = subprocess.run([tmp_path / "pause", "-v"], capture_output=True, text=True, timeout=10)
    assert version.stdout.strip() == f"pause.c v3.10-{build.DEFAULT_KUBERNETES}"
    images.import_archive(containerd, archive, runner=RUNNER, expect=ref)
    assert ref in images.image_names(containerd, runner=RUNNER)
    listed = RUNNER.run(images.ctr_argv(containerd, "images", "ls"), timeout=30).stdout
    assert "linux/amd64" in listed
    assert "Committed" in snapshots(containerd)  # unpacked for the default snapshotter
    again = images.pause_archive(tmp_path / "again")[0]
    assert again.read_bytes() == archive.read_bytes()  # same source, same image


def test_the_coredns_archive_imports_when_the_binary_is_built(
    containerd: str, tmp_path: Path
) -> None:
    bin_dir = build.version_dir(build.DEFAULT_KUBERNETES) / "bin"
    if not (bin_dir / "coredns").is_file():
        pytest.skip(f"no coredns in {bin_dir}: run `python -m harness.kube.local.build`")
    archive, ref = images.coredns_archive(tmp_path, bin_dir)
    images.import_archive(containerd, archive, runner=RUNNER, expect=ref)
    assert ref in images.image_names(containerd, runner=RUNNER)


@pytest.mark.docker
def test_a_docker_image_lands_under_its_normalized_name(containerd: str, tmp_path: Path) -> None:
    """Our archive also loads into docker (manifest.json); `docker save` of it then imports."""
    tag = f"gtc-local-images-test:{secrets.token_hex(4)}"
    archive = images.scratch_archive(
        tmp_path / "t.tar", tag, [images.ImageFile("/x", b"x")], entrypoint=["/x"]
    )
    loaded = RUNNER.run(["docker", "load", "-i", str(archive)], timeout=120)
    assert loaded.ok, loaded.stderr
    try:
        assert images.import_docker_image(containerd, tag, runner=RUNNER) == tag
        assert f"docker.io/library/{tag}" in images.image_names(containerd, runner=RUNNER)
    finally:
        RUNNER.run(["docker", "rmi", tag], timeout=60)
