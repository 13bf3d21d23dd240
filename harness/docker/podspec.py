"""Translate rendered Kubernetes objects into pod plans — pure functions, no I/O.

`pod_plans(objects, max_replicas=…)` turns every Deployment into PodPlans: its containers as
`ContainerRun`s (harness.docker.containers), its volumes (emptyDir → tmpfs volume owned by the
pod's uid/fsGroup; ConfigMap/Secret → files to bind read-only) and the Service names that
select it (network aliases). Docker arguments come from harness.docker.dockerargs; the names
of both are re-exported here. The shell is harness.docker.pods.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.docker.containers import (
    ContainerRun,
    Probe,
    container_run,
    cpu_nanos,
    expand,
    memory_bytes,
)
from harness.docker.dockerargs import (
    KUBELET_BACKOFF,
    Backoff,
    DockerParams,
    VolumeSource,
    docker_params,
    tmpfs_options,
)
from harness.docker.podtypes import (
    EmptyDir,
    MountSpec,
    Obj,
    ObjectKey,
    PodSpecError,
    ProjectedFile,
    Projection,
    index,
    key_of,
    safe_rel,
    source_data,
)

__all__ = [
    "KUBELET_BACKOFF",
    "Backoff",
    "ContainerRun",
    "DockerParams",
    "EmptyDir",
    "MountSpec",
    "Obj",
    "ObjectKey",
    "PodPlan",
    "PodSpecError",
    "Probe",
    "ProjectedFile",
    "Projection",
    "VolumeSource",
    "aliases_for",
    "container_run",
    "cpu_nanos",
    "describe",
    "docker_params",
    "expand",
    "identity",
    "index",
    "key_of",
    "memory_bytes",
    "pod_plan",
    "pod_plans",
    "source_data",
    "tmpfs_options",
]

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


def _check_pod_spec(where: str, spec: Obj) -> None:
    unknown = set(spec) - HANDLED_POD_FIELDS - IGNORED_POD_FIELDS
    if unknown:
        raise PodSpecError(
            f"{where}: pod spec field(s) {', '.join(sorted(unknown))} have no docker-track "
            "equivalent\nHint: run this workload on the kind track"
        )
    if spec.get("restartPolicy", "Always") != "Always":
        raise PodSpecError(f"{where}: a Deployment's restartPolicy must be Always")


def _volumes(
    where: str, namespace: str, volumes: Mapping[str, Obj], objects: Mapping[ObjectKey, Obj]
) -> tuple[tuple[EmptyDir, ...], tuple[Projection, ...]]:
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
    return tuple(empty_dirs), tuple(projections)


def _optional_int(value: Any) -> int | None:
    return int(value) if value is not None else None


def _template(deployment: Obj) -> tuple[Obj, Obj, Obj]:
    """(template, its metadata, its pod spec) of a Deployment; absent parts are empty."""
    template: Obj = (deployment.get("spec") or {}).get("template") or {}
    return template, template.get("metadata") or {}, template.get("spec") or {}


def _strings(mapping: Obj | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (mapping or {}).items()}


def _ports(mains: Sequence[ContainerRun]) -> tuple[int, ...]:
    """Container ports plus probe ports: what the sandbox publishes on loopback."""
    ports = {p for c in mains for p in c.ports}
    ports |= {c.readiness.port for c in mains if c.readiness and c.readiness.port is not None}
    return tuple(sorted(ports))


def pod_plan(deployment: Obj, objects: Mapping[ObjectKey, Obj], *, replica: int = 0) -> PodPlan:
    """The PodPlan of one replica of `deployment`, resolving ConfigMaps/Secrets/Services."""
    _, namespace, name = key_of(deployment)
    where = f"Deployment {name}"
    template, meta, spec = _template(deployment)
    _check_pod_spec(where, spec)
    labels = _strings(meta.get("labels"))
    aliases = aliases_for(namespace, labels, objects)
    pod_sc: Obj = spec.get("securityContext") or {}
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    empty_dirs, projections = _volumes(where, namespace, volumes, objects)
    pod_id = identity(template, aliases)
    pod_name = f"{name}-{pod_id[:10]}" + (f"-{replica}" if replica else "")

    def run(container: Obj) -> ContainerRun:
        return container_run(
            container, pod_sc, volumes, objects, namespace=namespace, pod_name=pod_name
        )

    mains = tuple(run(c) for c in spec.get("containers") or [])
    if not mains:
        raise PodSpecError(f"{where}: the pod template has no containers")
    return PodPlan(
        namespace=namespace,
        deployment=name,
        replica=replica,
        identity=pod_id,
        labels=labels,
        annotations=_strings(meta.get("annotations")),
        aliases=aliases,
        init_containers=tuple(run(c) for c in spec.get("initContainers") or []),
        containers=mains,
        empty_dirs=empty_dirs,
        projections=projections,
        run_as_user=_optional_int(pod_sc.get("runAsUser")),
        run_as_group=_optional_int(pod_sc.get("runAsGroup")),
        fs_group=_optional_int(pod_sc.get("fsGroup")),
        ports=_ports(mains),
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
            files.append(ProjectedFile(safe_rel(where, item["path"]), data[key], mode))
    else:
        files = [ProjectedFile(safe_rel(where, k), v, default_mode) for k, v in data.items()]
    return Projection(vol_name, kind, source, tuple(sorted(files, key=lambda f: f.path)))


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
