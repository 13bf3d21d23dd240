"""A `ContainerRun` onto docker SDK arguments, an emptyDir onto tmpfs options, restart back-off.

Pure: `docker_params` maps one container onto `APIClient.create_container` and
`create_host_config` keywords (the container joins its pod's sandbox network namespace);
`tmpfs_options` makes an emptyDir owned by the pod's user; `Backoff` is kubelet's restart
delay. Used by harness.docker.pod and harness.docker.kubelet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from harness.docker.containers import ContainerRun
from harness.docker.podtypes import EmptyDir, PodSpecError, safe_rel

VolumeSource = tuple[Literal["volume", "bind"], str]


@dataclass(frozen=True)
class DockerParams:
    """Arguments for `APIClient.create_container` (`create`) and `create_host_config`
    (`host`); `mounts` are `docker.types.Mount` keyword sets (the shell builds them)."""

    create: dict[str, Any]
    host: dict[str, Any]
    mounts: tuple[dict[str, Any], ...]


def docker_params(
    run: ContainerRun,
    *,
    sources: Mapping[str, VolumeSource],
    network_mode: str,
    labels: Mapping[str, str],
    name: str,
) -> DockerParams:
    """`run` as Docker arguments. `sources` maps pod volume → (volume name | host dir); the
    container joins the sandbox's network namespace through `network_mode`."""
    mounts: list[dict[str, Any]] = []
    for mount in run.mounts:
        kind, source = sources[mount.volume]
        if mount.sub_path:
            if kind == "volume":
                raise PodSpecError(
                    f"container {run.name}: subPath on emptyDir {mount.volume} needs Docker "
                    "volume subpaths, which this engine does not offer"
                )
            source = f"{source}/{safe_rel(f'container {run.name}', mount.sub_path)}"
        mounts.append(
            {"target": mount.target, "source": source, "type": kind, "read_only": mount.read_only}
        )
    host: dict[str, Any] = {
        "network_mode": network_mode,
        "read_only": run.read_only,
        "privileged": run.privileged,
        # docker-init as PID 1 forwards SIGTERM: a PID-1 busybox httpd would ignore it and
        # every pod replacement would wait out the grace period
        "init": True,
    }
    optional = {
        "cap_drop": list(run.cap_drop),
        "cap_add": list(run.cap_add),
        "security_opt": list(run.security_opt),
        "group_add": list(run.group_add),
        "nano_cpus": run.nano_cpus,
        "mem_limit": run.mem_limit,
        "cpu_shares": run.cpu_shares,
    }
    host.update({k: v for k, v in optional.items() if v})
    create: dict[str, Any] = {
        "image": run.image,
        "name": name,
        "environment": [f"{k}={v}" for k, v in run.env],
        "labels": dict(labels),
    }
    if run.entrypoint is not None:
        create["entrypoint"] = list(run.entrypoint)
    if run.cmd is not None:
        create["command"] = list(run.cmd)
    if run.user is not None:
        create["user"] = run.user
    if run.working_dir:
        create["working_dir"] = run.working_dir
    return DockerParams(create=create, host=host, mounts=tuple(mounts))


def tmpfs_options(empty_dir: EmptyDir, *, uid: int | None, gid: int | None) -> dict[str, str]:
    """`local`-driver options of a tmpfs volume owned by the pod's user and fsGroup: a fresh
    named volume is root-owned, which a uid-65532 init container could not write into."""
    options = [f"uid={uid if uid is not None else 0}", f"gid={gid if gid is not None else 0}"]
    options.append("mode=2775" if gid is not None else "mode=1777")
    if empty_dir.size_bytes:
        options.append(f"size={empty_dir.size_bytes}")
    return {"type": "tmpfs", "device": "tmpfs", "o": ",".join(options)}


@dataclass(frozen=True)
class Backoff:
    """Restart delays after a main container exits: `initial_s`, doubling, capped at `cap_s`
    (kubelet's CrashLoopBackOff is 10 s doubling to 300 s; ours defaults shorter for tests);
    a run longer than `reset_after_s` starts the sequence over."""

    initial_s: float = 1.0
    cap_s: float = 10.0
    reset_after_s: float = 60.0

    def delay(self, restarts: int) -> float:
        """The wait before restart number `restarts + 1`."""
        return float(min(self.initial_s * 2.0 ** min(max(restarts, 0), 32), self.cap_s))


KUBELET_BACKOFF = Backoff(initial_s=10.0, cap_s=300.0, reset_after_s=600.0)
