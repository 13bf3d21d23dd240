"""The volumes of one pod: emptyDirs as tmpfs Docker volumes, ConfigMap/Secret files on disk.

An emptyDir is a named tmpfs volume owned by the pod's uid/fsGroup, kept mounted in the sandbox
at `/pod-volumes/<name>` so it lives as long as the pod and can be read while a container is
down. ConfigMap/Secret volumes are files under the pod's work dir, bind-mounted read-only and
rewritten on every refresh (as kubelet updates them). Used by harness.docker.pod.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from harness.docker import engine, podspec
from harness.docker.podspec import ContainerRun, PodPlan

VOLUMES_IN_SANDBOX = "/pod-volumes"  # emptyDirs stay mounted here for the pod's lifetime

# where a path of a container lives: a host file (bind), inside the sandbox, inside the container
Location = tuple[Literal["host", "sandbox", "container"], str]


class PodVolumes:
    """Volumes of one pod. `prefix` names its Docker objects, `root` holds its files."""

    def __init__(self, plan: PodPlan, *, prefix: str, root: Path, labels: Mapping[str, str]):
        self.plan = plan
        self.prefix = prefix
        self.root = root
        self.labels = dict(labels)

    def volume_name(self, volume: str) -> str:
        return f"{self.prefix}.vol-{volume}"

    def create(self, api: Any, pod: str) -> None:
        """The emptyDir volumes (tmpfs, owned by the pod's user) and the projected files."""
        plan = self.plan
        gid = plan.fs_group if plan.fs_group is not None else plan.run_as_group
        for empty_dir in plan.empty_dirs:
            opts = podspec.tmpfs_options(empty_dir, uid=plan.run_as_user, gid=gid)
            name = self.volume_name(empty_dir.volume)
            with engine.docker_errors(f"create volume {empty_dir.volume} of pod {pod}"):
                with contextlib.suppress(engine.not_found()):  # a previous process's leftover
                    api.remove_volume(name, force=True)
                api.create_volume(name, driver="local", driver_opts=opts, labels=self.labels)
        self.refresh(plan)

    def sandbox_mounts(self) -> list[Any]:
        """The emptyDirs, mounted in the sandbox so they outlive container restarts."""
        return [
            engine.mount(
                {
                    "target": f"{VOLUMES_IN_SANDBOX}/{e.volume}",
                    "source": self.volume_name(e.volume),
                    "type": "volume",
                    "read_only": False,
                }
            )
            for e in self.plan.empty_dirs
        ]

    def refresh(self, plan: PodPlan) -> None:
        """Write the ConfigMap/Secret files (again): changed bytes appear in the running pod,
        as kubelet updates configMap volumes; a subPath mount keeps the old file, as there."""
        self.plan = plan
        for projection in plan.projections:
            root = self.root / "volumes" / projection.volume
            root.mkdir(parents=True, exist_ok=True)
            root.chmod(0o755)
            wanted = {f.path for f in projection.files}
            for existing in sorted(root.rglob("*"), reverse=True):
                rel = existing.relative_to(root).as_posix()
                if existing.is_file() and rel not in wanted:
                    existing.unlink()
            for item in projection.files:
                self._write(root / item.path, item.data, item.mode)

    def _write(self, target: Path, data: bytes, mode: int) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        gid = self.plan.fs_group
        if gid is not None:
            mode |= 0o040  # fsGroup: the group may read, as kubelet sets it
        with contextlib.suppress(FileNotFoundError):
            if target.read_bytes() == data and (target.stat().st_mode & 0o7777) == mode:
                return
        temp = target.with_name(f".{target.name}.tmp")
        temp.write_bytes(data)
        temp.chmod(mode)
        if gid is not None and os.geteuid() == 0:
            os.chown(temp, -1, gid)
        temp.replace(target)

    def sources(self) -> dict[str, podspec.VolumeSource]:
        """Pod volume → what Docker mounts: a named volume or a host directory."""
        sources: dict[str, podspec.VolumeSource] = {
            e.volume: ("volume", self.volume_name(e.volume)) for e in self.plan.empty_dirs
        }
        for projection in self.plan.projections:
            root = self.root / "volumes" / projection.volume
            sources[projection.volume] = ("bind", str(root.resolve()))
        return sources

    def locate(self, run: ContainerRun, path: str) -> Location:
        """Where `path` as `run` sees it lives (the longest volumeMount prefix wins)."""
        mounts = [
            m for m in run.mounts if path == m.target or path.startswith(m.target.rstrip("/") + "/")
        ]
        best = max(mounts, key=lambda m: len(m.target), default=None)
        if best is None:
            return ("container", path)
        rel = path[len(best.target) :].lstrip("/")
        kind, source = self.sources()[best.volume]
        if kind == "bind":
            return ("host", str(Path(source) / rel))
        return ("sandbox", f"{VOLUMES_IN_SANDBOX}/{best.volume}/{rel}")

    def remove(self, api: Any) -> None:
        for empty_dir in self.plan.empty_dirs:
            with contextlib.suppress(engine.not_found()):
                api.remove_volume(self.volume_name(empty_dir.volume), force=True)
        shutil.rmtree(self.root, ignore_errors=True)


def read_host(path: str) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except OSError:
        return None


def read_archive(api: Any, container_id: str, path: str) -> bytes | None:
    """One file out of a container (`docker cp`), None when it is absent."""
    try:
        stream, _ = api.get_archive(container_id, path)
    except engine.not_found():
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = next((m for m in tar.getmembers() if m.isfile()), None)
        handle = tar.extractfile(member) if member is not None else None
        return handle.read() if handle is not None else None
