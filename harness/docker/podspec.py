"""Translate rendered Kubernetes objects into Docker run parameters — pure functions, no I/O.

`pod_plans(objects, max_replicas=…)` turns every Deployment into PodPlans: its containers as
`ContainerRun`s (securityContext → user/read-only/cap-drop/no-new-privileges, resources →
nano_cpus/mem_limit, command → entrypoint, args → cmd, env with `$(VAR)` expansion), its
volumes (emptyDir → tmpfs volume owned by the pod's uid/fsGroup; ConfigMap/Secret → files to
bind read-only) and the Service names that select it (network aliases). `docker_params` maps
one ContainerRun onto docker SDK arguments. The shell is harness.docker.pods.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.errors import HarnessError

Obj = Mapping[str, Any]
ObjectKey = tuple[str, str, str]  # (kind, namespace or "", name)

DEFAULT_FILE_MODE = 0o644  # K8s defaultMode for ConfigMap and Secret volumes
SANDBOX_USER = "65534:65534"  # nobody, when the pod names no runAsUser
CLUSTER_DOMAIN = "svc.cluster.local"
# Fields of a pod spec the docker track deliberately ignores: scheduling and identity
# concerns a single Docker engine has no equivalent for (documented, not silently wrong).
IGNORED_POD_FIELDS = frozenset(
    {
        "affinity",
        "automountServiceAccountToken",
        "dnsPolicy",
        "enableServiceLinks",
        "imagePullSecrets",
        "nodeName",
        "nodeSelector",
        "priorityClassName",
        "schedulerName",
        "serviceAccount",
        "serviceAccountName",
        "terminationGracePeriodSeconds",
        "tolerations",
        "topologySpreadConstraints",
    }
)
HANDLED_POD_FIELDS = frozenset(
    {"containers", "initContainers", "volumes", "securityContext", "restartPolicy"}
)
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)([A-Za-z]*)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class PodSpecError(HarnessError):
    """Raised when a rendered object cannot run on the docker track; names the field and why."""


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


# -- the object index --------------------------------------------------------------------------


def key_of(obj: Obj) -> ObjectKey:
    """(kind, namespace, name) of an object; the namespace is "" for cluster-scoped kinds."""
    meta = obj.get("metadata") or {}
    if not obj.get("kind") or not meta.get("name"):
        raise PodSpecError(f"an object without kind or metadata.name: {json.dumps(obj)[:200]}")
    return (str(obj["kind"]), str(meta.get("namespace") or ""), str(meta["name"]))


def index(objects: Iterable[Obj]) -> dict[ObjectKey, Obj]:
    """Objects by key; a duplicate key is an error (the same object twice in one set)."""
    out: dict[ObjectKey, Obj] = {}
    for obj in objects:
        key = key_of(obj)
        if key in out:
            raise PodSpecError(f"{key[0]} {key[2]} appears twice in the objects to sync")
        out[key] = obj
    return out


def source_data(obj: Obj) -> dict[str, bytes]:
    """A ConfigMap's data + binaryData, or a Secret's data + stringData, as bytes per key."""
    out: dict[str, bytes] = {}
    if obj["kind"] == "Secret":
        for key, value in (obj.get("data") or {}).items():
            out[key] = base64.b64decode(value)
        for key, value in (obj.get("stringData") or {}).items():
            out[key] = str(value).encode()
    else:
        for key, value in (obj.get("data") or {}).items():
            out[key] = str(value).encode()
        for key, value in (obj.get("binaryData") or {}).items():
            out[key] = base64.b64decode(value)
    return out


# -- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """A readiness probe, polled by the harness (HTTP/TCP from the host, exec in the container)."""

    action: Literal["http", "tcp", "exec"]
    port: int | None = None
    path: str = "/"
    command: tuple[str, ...] = ()
    timeout_s: float = 1.0


@dataclass(frozen=True)
class MountSpec:
    """One volumeMount: `volume` (a pod volume name) at `target`."""

    target: str
    volume: str
    read_only: bool = False
    sub_path: str | None = None


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


@dataclass(frozen=True)
class ProjectedFile:
    path: str
    data: bytes
    mode: int


@dataclass(frozen=True)
class Projection:
    """A ConfigMap or Secret volume: the files to write and bind read-only."""

    volume: str
    kind: str
    source: str
    files: tuple[ProjectedFile, ...]


@dataclass(frozen=True)
class EmptyDir:
    """An emptyDir: a tmpfs Docker volume owned by the pod's uid and fsGroup."""

    volume: str
    size_bytes: int | None = None


@dataclass(frozen=True)
class PodPlan:
    """One pod of a Deployment: what to create, and the identity that decides replacement."""

    namespace: str
    deployment: str
    replica: int
    identity: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    aliases: tuple[str, ...]
    init_containers: tuple[ContainerRun, ...]
    containers: tuple[ContainerRun, ...]
    empty_dirs: tuple[EmptyDir, ...]
    projections: tuple[Projection, ...]
    run_as_user: int | None
    run_as_group: int | None
    fs_group: int | None
    ports: tuple[int, ...] = field(default=())

    @property
    def sandbox_user(self) -> str:
        """The pod's runAsUser:runAsGroup (so the sandbox can read what the pod writes)."""
        if self.run_as_user is None:
            return SANDBOX_USER
        group = self.run_as_group if self.run_as_group is not None else self.run_as_user
        return f"{self.run_as_user}:{group}"

    @property
    def name(self) -> str:
        """`<deployment>-<identity[:10]>` (plus `-<i>` for replicas after the first)."""
        base = f"{self.deployment}-{self.identity[:10]}"
        return base if self.replica == 0 else f"{base}-{self.replica}"

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.namespace, self.deployment, self.replica)


def identity(template: Obj, aliases: Sequence[str]) -> str:
    """Hash of the pod template and its aliases: a change replaces the pod (the template hash
    kubelet's ReplicaSets use; ConfigMap/Secret contents are not in it, as on a cluster)."""
    doc = {"template": template, "aliases": sorted(aliases)}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def aliases_for(
    namespace: str, pod_labels: Mapping[str, str], objects: Mapping[ObjectKey, Obj]
) -> tuple[str, ...]:
    """`<svc>` and `<svc>.<ns>.svc.cluster.local` for every Service whose selector the pod's
    labels satisfy (a Service without a selector selects nothing, as on a cluster)."""
    names: list[str] = []
    for kind, ns, name in sorted(objects):
        if kind != "Service" or ns != namespace:
            continue
        svc = objects[(kind, ns, name)]
        spec = svc.get("spec") or {}
        selector: Mapping[str, str] = spec.get("selector") or {}
        if not selector or any(pod_labels.get(k) != v for k, v in selector.items()):
            continue
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if isinstance(target, int) and target != port.get("port"):
                raise PodSpecError(
                    f"Service {name}: port {port.get('port')} → targetPort {target} needs a "
                    "port remap, which Docker network aliases cannot do\nHint: render "
                    "port == targetPort, or run this on the kind track"
                )
        names += [name, f"{name}.{namespace}.{CLUSTER_DOMAIN}"]
    return tuple(names)


def pod_plans(objects: Mapping[ObjectKey, Obj], *, max_replicas: int = 1) -> list[PodPlan]:
    """Every pod the Deployments in `objects` ask for (at most `max_replicas` per Deployment)."""
    plans: list[PodPlan] = []
    for key in sorted(objects):
        if key[0] != "Deployment":
            continue
        obj = objects[key]
        spec = obj.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        for replica in range(min(replicas, max_replicas)):
            plans.append(pod_plan(obj, objects, replica=replica))
    return plans


def pod_plan(deployment: Obj, objects: Mapping[ObjectKey, Obj], *, replica: int = 0) -> PodPlan:
    """The PodPlan of one replica of `deployment`, resolving ConfigMaps/Secrets/Services."""
    _, namespace, name = key_of(deployment)
    where = f"Deployment {name}"
    template: Obj = (deployment.get("spec") or {}).get("template") or {}
    meta = template.get("metadata") or {}
    spec: Obj = template.get("spec") or {}
    unknown = set(spec) - HANDLED_POD_FIELDS - IGNORED_POD_FIELDS
    if unknown:
        raise PodSpecError(
            f"{where}: pod spec field(s) {', '.join(sorted(unknown))} have no docker-track "
            "equivalent\nHint: run this workload on the kind track"
        )
    if spec.get("restartPolicy", "Always") != "Always":
        raise PodSpecError(f"{where}: a Deployment's restartPolicy must be Always")
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    aliases = aliases_for(namespace, labels, objects)
    pod_sc: Obj = spec.get("securityContext") or {}
    fs_group = pod_sc.get("fsGroup")
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    empty_dirs: list[EmptyDir] = []
    projections: list[Projection] = []
    for vol_name, vol in sorted(volumes.items()):
        if "emptyDir" in vol:
            limit = (vol.get("emptyDir") or {}).get("sizeLimit")
            empty_dirs.append(EmptyDir(vol_name, memory_bytes(limit) if limit else None))
        elif "configMap" in vol or "secret" in vol:
            projections.append(_projection(where, namespace, vol_name, vol, objects))
        else:
            kinds = sorted(k for k in vol if k != "name")
            raise PodSpecError(
                f"{where}: volume {vol_name} ({', '.join(kinds)}) is not supported on the docker "
                "track (emptyDir, configMap and secret are)"
            )
    pod_id = identity(template, aliases)
    pod_name_env = f"{name}-{pod_id[:10]}" + (f"-{replica}" if replica else "")
    inits = tuple(
        container_run(c, pod_sc, volumes, objects, namespace=namespace, pod_name=pod_name_env)
        for c in spec.get("initContainers") or []
    )
    mains = tuple(
        container_run(c, pod_sc, volumes, objects, namespace=namespace, pod_name=pod_name_env)
        for c in spec.get("containers") or []
    )
    if not mains:
        raise PodSpecError(f"{where}: the pod template has no containers")
    ports = sorted(
        {p for c in mains for p in c.ports}
        | {c.readiness.port for c in mains if c.readiness and c.readiness.port is not None}
    )
    uid, gid = pod_sc.get("runAsUser"), pod_sc.get("runAsGroup")
    return PodPlan(
        namespace=namespace,
        deployment=name,
        replica=replica,
        identity=pod_id,
        labels=labels,
        annotations={str(k): str(v) for k, v in (meta.get("annotations") or {}).items()},
        aliases=aliases,
        init_containers=inits,
        containers=mains,
        empty_dirs=tuple(empty_dirs),
        projections=tuple(projections),
        run_as_user=int(uid) if uid is not None else None,
        run_as_group=int(gid) if gid is not None else None,
        fs_group=int(fs_group) if fs_group is not None else None,
        ports=tuple(ports),
    )


def _projection(
    where: str, namespace: str, vol_name: str, vol: Obj, objects: Mapping[ObjectKey, Obj]
) -> Projection:
    is_secret = "secret" in vol
    src: Obj = vol.get("secret" if is_secret else "configMap") or {}
    kind = "Secret" if is_secret else "ConfigMap"
    source = str(src.get("secretName" if is_secret else "name") or "")
    obj = objects.get((kind, namespace, source))
    default_mode = int(src.get("defaultMode", DEFAULT_FILE_MODE))
    if obj is None:
        if src.get("optional"):
            return Projection(vol_name, kind, source, ())
        raise PodSpecError(
            f"{where}: volume {vol_name} needs {kind} {source}, which is not among the synced "
            f"objects\nHint: sync the {kind} with the Deployment (render both together)"
        )
    data = source_data(obj)
    items = src.get("items")
    files: list[ProjectedFile] = []
    if items:
        for item in items:
            key = item["key"]
            if key not in data:
                if src.get("optional"):
                    continue
                raise PodSpecError(f"{where}: volume {vol_name}: {kind} {source} has no key {key}")
            mode = int(item.get("mode", default_mode))
            files.append(ProjectedFile(_safe_rel(where, item["path"]), data[key], mode))
    else:
        files = [ProjectedFile(_safe_rel(where, k), v, default_mode) for k, v in data.items()]
    return Projection(vol_name, kind, source, tuple(sorted(files, key=lambda f: f.path)))


def _safe_rel(where: str, path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or ".." in parts or "" in parts:
        raise PodSpecError(f"{where}: projected path {path!r} must be relative, without `..`")
    return path


def _env(
    where: str,
    container: Obj,
    objects: Mapping[ObjectKey, Obj],
    namespace: str,
    pod_name: str,
) -> list[tuple[str, str]]:
    """envFrom then env, in order, each value `$(VAR)`-expanded against the ones before it."""
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
    for item in container.get("env") or []:
        name = item["name"]
        if "value" in item:
            resolved[name] = expand(str(item["value"]), resolved)
            continue
        value_from: Obj = item.get("valueFrom") or {}
        ref = value_from.get("configMapKeyRef") or value_from.get("secretKeyRef")
        if ref is not None:
            kind = "ConfigMap" if "configMapKeyRef" in value_from else "Secret"
            obj = objects.get((kind, namespace, ref["name"]))
            data = source_data(obj) if obj is not None else {}
            if ref["key"] in data:
                resolved[name] = data[ref["key"]].decode("utf-8", "replace")
            elif not ref.get("optional"):
                raise PodSpecError(
                    f"{where}: env {name} needs key {ref['key']} of {kind} {ref['name']}"
                )
            continue
        field_path = (value_from.get("fieldRef") or {}).get("fieldPath")
        if field_path == "metadata.name":
            resolved[name] = pod_name
        elif field_path == "metadata.namespace":
            resolved[name] = namespace
        elif "value" not in item and not value_from:
            resolved[name] = ""
        else:
            raise PodSpecError(
                f"{where}: env {name}: valueFrom {json.dumps(value_from)} is not supported"
            )
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
    uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
    gid = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    user = None if uid is None else f"{uid}:{gid if gid is not None else uid}"
    if uid is None and gid is not None:
        raise PodSpecError(f"{where}: runAsGroup without runAsUser cannot be expressed in Docker")
    groups = [pod_sc["fsGroup"]] if pod_sc.get("fsGroup") is not None else []
    groups += list(pod_sc.get("supplementalGroups") or [])
    caps: Obj = sc.get("capabilities") or {}
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
    limits: Obj = (container.get("resources") or {}).get("limits") or {}
    requests: Obj = (container.get("resources") or {}).get("requests") or {}
    env = _env(where, container, objects, namespace, pod_name)
    env_map = dict(env)
    command = container.get("command")
    args = container.get("args")
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
    return ContainerRun(
        name=name,
        image=str(container["image"]),
        entrypoint=tuple(expand(str(a), env_map) for a in command) if command else None,
        cmd=tuple(expand(str(a), env_map) for a in args) if args else (() if command else None),
        env=tuple(env),
        user=user,
        group_add=tuple(str(g) for g in groups),
        working_dir=container.get("workingDir"),
        read_only=bool(sc.get("readOnlyRootFilesystem", False)),
        privileged=bool(sc.get("privileged", False)),
        cap_drop=tuple(caps.get("drop") or ()),
        cap_add=tuple(caps.get("add") or ()),
        security_opt=tuple(security_opt),
        nano_cpus=cpu_nanos(limits["cpu"]) if "cpu" in limits else None,
        mem_limit=memory_bytes(limits["memory"]) if "memory" in limits else None,
        # kubelet's cpu.shares for a request: millicores * 1024 / 1000 (minimum 2)
        cpu_shares=max(2, cpu_nanos(requests["cpu"]) * 1024 // 1_000_000_000)
        if "cpu" in requests
        else None,
        mounts=tuple(mounts),
        ports=tuple(int(p["containerPort"]) for p in container.get("ports") or []),
        readiness=_probe(where, container),
        run_as_non_root=bool(sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot", False))),
    )


# -- onto the docker SDK -----------------------------------------------------------------------

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
            source = f"{source}/{_safe_rel(f'container {run.name}', mount.sub_path)}"
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


def describe(plan: PodPlan) -> dict[str, Any]:
    """A JSON-friendly summary of a plan (for artifacts; secret bytes are never included)."""
    return {
        "pod": plan.name,
        "namespace": plan.namespace,
        "deployment": plan.deployment,
        "aliases": list(plan.aliases),
        "ports": list(plan.ports),
        "labels": dict(plan.labels),
        "annotations": dict(plan.annotations),
        "init_containers": [c.name for c in plan.init_containers],
        "containers": [
            {
                "name": c.name,
                "image": c.image,
                "entrypoint": c.entrypoint,
                "cmd": c.cmd,
                "user": c.user,
                "read_only": c.read_only,
                "cap_drop": list(c.cap_drop),
                "security_opt": list(c.security_opt),
                "env": sorted(k for k, _ in c.env),
            }
            for c in plan.containers
        ],
        "volumes": [e.volume for e in plan.empty_dirs]
        + [f"{p.volume} ({p.kind} {p.source}: {len(p.files)} file(s))" for p in plan.projections],
    }
