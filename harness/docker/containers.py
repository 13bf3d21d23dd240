"""One Kubernetes container (with its pod's securityContext) → a `ContainerRun` Docker can run.

Pure: securityContext → user/groups/read-only/caps/no-new-privileges/seccomp, resources →
nano_cpus/mem_limit/cpu_shares, command/args → entrypoint/cmd with `$(VAR)` expansion, env from
values, ConfigMap/Secret keys, envFrom and the pod's name/namespace, the readiness probe, the
volumeMounts. Used by harness.docker.podspec.pod_plan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from harness.docker.podtypes import MountSpec, Obj, ObjectKey, PodSpecError, source_data

_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)([A-Za-z]*)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")

# -- quantities and variables ------------------------------------------------------------------


def _quantity(text: str | int | float, what: str) -> tuple[float, str]:
    match = _QUANTITY.match(str(text).strip())
    if match is None:
        raise PodSpecError(f"{what}: `{text}` is not a Kubernetes quantity")
    return float(match.group(1)), match.group(2)


def cpu_nanos(text: str | int | float) -> int:
    """`1` → 1e9, `250m` → 2.5e8, `0.5` → 5e8 (Docker's NanoCpus)."""
    number, suffix = _quantity(text, "cpu")
    if suffix == "m":
        return round(number * 1_000_000)
    if suffix:
        raise PodSpecError(f"cpu: unit `{suffix}` in `{text}` is not a CPU unit (use cores or m)")
    return round(number * 1_000_000_000)


def memory_bytes(text: str | int | float) -> int:
    """`1Gi` → 1073741824, `256M` → 256000000, `512` → 512."""
    number, suffix = _quantity(text, "memory")
    scale = _BINARY.get(suffix) or _DECIMAL.get(suffix)
    if scale is None:
        raise PodSpecError(f"memory: unit `{suffix}` in `{text}` is not a memory unit")
    return round(number * scale)


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: defined names are replaced, `$$` escapes, others stay."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _VAR_REF.sub(one, text)


@dataclass(frozen=True)
class Probe:
    """A readiness probe, polled by the harness (HTTP/TCP from the host, exec in the container)."""

    action: Literal["http", "tcp", "exec"]
    port: int | None = None
    path: str = "/"
    command: tuple[str, ...] = ()
    timeout_s: float = 1.0


@dataclass(frozen=True)
class ContainerRun:
    """One container of a pod as Docker runs it (see `docker_params`)."""

    name: str
    image: str
    entrypoint: tuple[str, ...] | None
    cmd: tuple[str, ...] | None
    env: tuple[tuple[str, str], ...]
    user: str | None
    group_add: tuple[str, ...] = ()
    working_dir: str | None = None
    read_only: bool = False
    privileged: bool = False
    cap_drop: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    nano_cpus: int | None = None
    mem_limit: int | None = None
    cpu_shares: int | None = None
    mounts: tuple[MountSpec, ...] = ()
    ports: tuple[int, ...] = ()
    readiness: Probe | None = None
    run_as_non_root: bool = False

    @property
    def uid(self) -> int | None:
        """The numeric uid it runs as, when the spec names one."""
        if self.user is None:
            return None
        head = self.user.split(":", 1)[0]
        return int(head) if head.isdigit() else None


def _env_from(
    where: str, container: Obj, objects: Mapping[ObjectKey, Obj], namespace: str
) -> dict[str, str]:
    """envFrom: every key of the ConfigMaps/Secrets named, prefixed."""
    resolved: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        ref = source.get("configMapRef") or source.get("secretRef")
        if ref is None:
            raise PodSpecError(f"{where}: envFrom supports configMapRef and secretRef only")
        kind = "ConfigMap" if "configMapRef" in source else "Secret"
        obj = objects.get((kind, namespace, ref["name"]))
        if obj is None:
            if ref.get("optional"):
                continue
            raise PodSpecError(f"{where}: envFrom needs {kind} {ref['name']}, which is missing")
        prefix = source.get("prefix", "")
        for key, value in source_data(obj).items():
            resolved[prefix + key] = value.decode("utf-8", "replace")
    return resolved


@dataclass(frozen=True)
class _PodFields:
    """What an env `valueFrom` may read besides ConfigMaps and Secrets."""

    objects: Mapping[ObjectKey, Obj]
    namespace: str
    pod_name: str


def _key_ref(where: str, name: str, value_from: Obj, pod: _PodFields) -> str | None:
    """The value of a configMapKeyRef/secretKeyRef; None when optional and absent."""
    ref = value_from.get("configMapKeyRef") or value_from.get("secretKeyRef")
    kind = "ConfigMap" if "configMapKeyRef" in value_from else "Secret"
    obj = pod.objects.get((kind, pod.namespace, ref["name"])) if ref else None
    data = source_data(obj) if obj is not None else {}
    if ref is not None and ref["key"] in data:
        return data[ref["key"]].decode("utf-8", "replace")
    if ref is not None and ref.get("optional"):
        return None
    key = ref["key"] if ref else "?"
    raise PodSpecError(f"{where}: env {name} needs key {key} of {kind} {ref and ref['name']}")


def _value_from(where: str, item: Obj, pod: _PodFields) -> str | None:
    """An env entry without `value`: a key ref, the pod's name/namespace, or empty."""
    name = item["name"]
    value_from: Obj = item.get("valueFrom") or {}
    if "configMapKeyRef" in value_from or "secretKeyRef" in value_from:
        return _key_ref(where, name, value_from, pod)
    field_path = (value_from.get("fieldRef") or {}).get("fieldPath")
    if field_path == "metadata.name":
        return pod.pod_name
    if field_path == "metadata.namespace":
        return pod.namespace
    if not value_from:
        return ""
    raise PodSpecError(f"{where}: env {name}: valueFrom {json.dumps(value_from)} is not supported")


def _env(where: str, container: Obj, pod: _PodFields) -> list[tuple[str, str]]:
    """envFrom then env, in order, each value `$(VAR)`-expanded against the ones before it."""
    resolved = _env_from(where, container, pod.objects, pod.namespace)
    for item in container.get("env") or []:
        if "value" in item:
            resolved[item["name"]] = expand(str(item["value"]), resolved)
            continue
        value = _value_from(where, item, pod)
        if value is not None:
            resolved[item["name"]] = value
    return list(resolved.items())


def _probe(where: str, container: Obj) -> Probe | None:
    probe: Obj | None = container.get("readinessProbe")
    if not probe:
        return None
    named = {p.get("name"): int(p["containerPort"]) for p in container.get("ports") or []}

    def port_of(value: Any) -> int:
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
        if value in named:
            return named[value]
        raise PodSpecError(f"{where}: readiness probe port {value!r} names no container port")

    timeout = float(probe.get("timeoutSeconds", 1))
    if "httpGet" in probe:
        get = probe["httpGet"]
        if str(get.get("scheme", "HTTP")).upper() != "HTTP":
            raise PodSpecError(f"{where}: only HTTP readiness probes are supported (not HTTPS)")
        return Probe("http", port_of(get["port"]), str(get.get("path", "/")), timeout_s=timeout)
    if "tcpSocket" in probe:
        return Probe("tcp", port_of(probe["tcpSocket"]["port"]), timeout_s=timeout)
    if "exec" in probe:
        return Probe("exec", command=tuple(probe["exec"]["command"]), timeout_s=timeout)
    raise PodSpecError(f"{where}: readiness probe {sorted(probe)} is not supported")


def _user(where: str, sc: Obj, pod_sc: Obj) -> str | None:
    uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
    gid = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    if uid is None and gid is not None:
        raise PodSpecError(f"{where}: runAsGroup without runAsUser cannot be expressed in Docker")
    return None if uid is None else f"{uid}:{gid if gid is not None else uid}"


def _security_opt(where: str, sc: Obj, pod_sc: Obj) -> tuple[str, ...]:
    security_opt: list[str] = []
    if sc.get("allowPrivilegeEscalation") is False:
        security_opt.append("no-new-privileges")
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp == "Unconfined":
        security_opt.append("seccomp=unconfined")
    elif seccomp not in (None, "RuntimeDefault"):
        raise PodSpecError(
            f"{where}: seccompProfile {seccomp} is not supported (RuntimeDefault is)"
        )
    return tuple(security_opt)


def _resources(container: Obj) -> tuple[int | None, int | None, int | None]:
    """(nano_cpus, mem_limit, cpu_shares) from limits.cpu, limits.memory, requests.cpu."""
    limits: Obj = (container.get("resources") or {}).get("limits") or {}
    requests: Obj = (container.get("resources") or {}).get("requests") or {}
    # kubelet's cpu.shares for a request: millicores * 1024 / 1000 (minimum 2)
    shares = (
        max(2, cpu_nanos(requests["cpu"]) * 1024 // 1_000_000_000) if "cpu" in requests else None
    )
    nanos = cpu_nanos(limits["cpu"]) if "cpu" in limits else None
    return nanos, (memory_bytes(limits["memory"]) if "memory" in limits else None), shares


def _mounts(where: str, container: Obj, volumes: Mapping[str, Obj]) -> tuple[MountSpec, ...]:
    mounts: list[MountSpec] = []
    for mount in container.get("volumeMounts") or []:
        vol_name = mount["name"]
        if vol_name not in volumes:
            raise PodSpecError(f"{where}: volumeMount {vol_name} names no pod volume")
        mounts.append(
            MountSpec(
                target=str(mount["mountPath"]),
                volume=vol_name,
                read_only=bool(mount.get("readOnly", False)),
                sub_path=mount.get("subPath") or None,
            )
        )
    return tuple(mounts)


def _command(
    container: Obj, env: Mapping[str, str]
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """command → entrypoint, args → cmd (an explicit command with no args clears CMD)."""
    command = container.get("command")
    args = container.get("args")
    entrypoint = tuple(expand(str(a), env) for a in command) if command else None
    return entrypoint, (
        tuple(expand(str(a), env) for a in args) if args else (() if command else None)
    )


def container_run(
    container: Obj,
    pod_sc: Obj,
    volumes: Mapping[str, Obj],
    objects: Mapping[ObjectKey, Obj],
    *,
    namespace: str = "",
    pod_name: str = "",
) -> ContainerRun:
    """One K8s container (with its pod's securityContext) → Docker's run parameters."""
    name = str(container["name"])
    where = f"container {name}"
    sc: Obj = container.get("securityContext") or {}
    groups = [pod_sc["fsGroup"]] if pod_sc.get("fsGroup") is not None else []
    groups += list(pod_sc.get("supplementalGroups") or [])
    caps: Obj = sc.get("capabilities") or {}
    env = _env(where, container, _PodFields(objects, namespace, pod_name))
    entrypoint, cmd = _command(container, dict(env))
    nano_cpus, mem_limit, cpu_shares = _resources(container)
    return ContainerRun(
        name=name,
        image=str(container["image"]),
        entrypoint=entrypoint,
        cmd=cmd,
        env=tuple(env),
        user=_user(where, sc, pod_sc),
        group_add=tuple(str(g) for g in groups),
        working_dir=container.get("workingDir"),
        read_only=bool(sc.get("readOnlyRootFilesystem", False)),
        privileged=bool(sc.get("privileged", False)),
        cap_drop=tuple(caps.get("drop") or ()),
        cap_add=tuple(caps.get("add") or ()),
        security_opt=_security_opt(where, sc, pod_sc),
        mounts=_mounts(where, container, volumes),
        ports=tuple(int(p["containerPort"]) for p in container.get("ports") or []),
        readiness=_probe(where, container),
        run_as_non_root=bool(sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot", False))),
        nano_cpus=nano_cpus,
        mem_limit=mem_limit,
        cpu_shares=cpu_shares,
    )
