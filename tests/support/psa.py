"""Check a pod spec against the Restricted Pod Security Standard (Kubernetes v1.25+ levels).

`violations(pod_spec, annotations)` returns one line per broken control, empty when the pod
would be admitted by a namespace labelled `pod-security.kubernetes.io/enforce: restricted`.
A test oracle, kept with the tests (the product ships no checker): the render tests and the
harness fixture tests run it on every pod template they produce. Controls covered (the
baseline ones first, restricted includes them all):

baseline   host namespaces (hostNetwork/hostPID/hostIPC) · privileged · capabilities beyond
           the baseline set · hostPath volumes · hostPort · AppArmor (no `unconfined`) ·
           SELinux (type/user/role) · procMount `Default` · Seccomp not `Unconfined` ·
           sysctls outside the safe set · Windows HostProcess
restricted volume types (configMap, csi, downwardAPI, emptyDir, ephemeral,
           persistentVolumeClaim, projected, secret) · allowPrivilegeEscalation false ·
           runAsNonRoot true · runAsUser ≠ 0 · seccomp RuntimeDefault/Localhost set ·
           capabilities drop ALL, add at most NET_BIND_SERVICE
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

BASELINE_CAPS = frozenset(
    [
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    ]
)
SAFE_SYSCTLS = frozenset(
    [
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    ]
)
SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
RESTRICTED_VOLUMES = frozenset(
    [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ]
)
_APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(field) or []:
            yield f"{field[:-1]} {c.get('name')}", c


def _seccomp(ctx: Mapping[str, Any]) -> str | None:
    profile = ctx.get("seccompProfile") or {}
    kind: str | None = profile.get("type")
    return kind


def _apparmor(ctx: Mapping[str, Any]) -> str | None:
    profile = ctx.get("appArmorProfile") or {}
    kind: str | None = profile.get("type")
    return kind


def _selinux(where: str, ctx: Mapping[str, Any]) -> Iterator[str]:
    opts = ctx.get("seLinuxOptions") or {}
    if opts.get("type", "") not in SELINUX_TYPES:
        yield f"{where}: seLinuxOptions.type `{opts['type']}` is not allowed"
    for key in ("user", "role"):
        if opts.get(key):
            yield f"{where}: seLinuxOptions.{key} must not be set"


def _baseline(spec: Mapping[str, Any], annotations: Mapping[str, str]) -> Iterator[str]:
    pod_ctx = spec.get("securityContext") or {}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            yield f"pod: {key} must not be true (host namespaces)"
    if (pod_ctx.get("windowsOptions") or {}).get("hostProcess"):
        yield "pod: windowsOptions.hostProcess must not be true"
    if _seccomp(pod_ctx) == "Unconfined":
        yield "pod: seccompProfile must not be Unconfined"
    if _apparmor(pod_ctx) == "Unconfined":
        yield "pod: appArmorProfile must not be Unconfined"
    yield from _selinux("pod", pod_ctx)
    for sysctl in pod_ctx.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"pod: sysctl `{sysctl.get('name')}` is not in the safe set"
    for vol in spec.get("volumes") or []:
        if "hostPath" in vol:
            yield f"volume {vol.get('name')}: hostPath volumes are forbidden"
    for key, value in annotations.items():
        if key.startswith(_APPARMOR_PREFIX) and value == "unconfined":
            yield f"annotation {key}: AppArmor must not be unconfined"
    for where, c in _containers(spec):
        ctx = c.get("securityContext") or {}
        if ctx.get("privileged"):
            yield f"{where}: privileged must not be true"
        if (ctx.get("windowsOptions") or {}).get("hostProcess"):
            yield f"{where}: windowsOptions.hostProcess must not be true"
        extra = set((ctx.get("capabilities") or {}).get("add") or []) - BASELINE_CAPS
        if extra:
            yield f"{where}: capabilities {sorted(extra)} are beyond the baseline set"
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                yield f"{where}: hostPort {port['hostPort']} is forbidden"
        if ctx.get("procMount", "Default") != "Default":
            yield f"{where}: procMount must be Default"
        if _seccomp(ctx) == "Unconfined":
            yield f"{where}: seccompProfile must not be Unconfined"
        if _apparmor(ctx) == "Unconfined":
            yield f"{where}: appArmorProfile must not be Unconfined"
        yield from _selinux(where, ctx)


def _restricted(spec: Mapping[str, Any]) -> Iterator[str]:
    pod_ctx = spec.get("securityContext") or {}
    for vol in spec.get("volumes") or []:
        kinds = set(vol) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            yield f"volume {vol.get('name')}: type {sorted(kinds)} is not allowed"
    if pod_ctx.get("runAsUser") == 0:
        yield "pod: runAsUser must not be 0"
    pod_non_root = pod_ctx.get("runAsNonRoot") is True
    pod_seccomp = _seccomp(pod_ctx) in ("RuntimeDefault", "Localhost")
    for where, c in _containers(spec):
        ctx = c.get("securityContext") or {}
        if ctx.get("allowPrivilegeEscalation") is not False:
            yield f"{where}: allowPrivilegeEscalation must be false"
        non_root = ctx.get("runAsNonRoot")
        if non_root is False or (non_root is None and not pod_non_root):
            yield f"{where}: runAsNonRoot must be true (pod or container)"
        if ctx.get("runAsUser") == 0:
            yield f"{where}: runAsUser must not be 0"
        seccomp = _seccomp(ctx)
        if not (seccomp in ("RuntimeDefault", "Localhost") or (seccomp is None and pod_seccomp)):
            yield f"{where}: seccompProfile must be RuntimeDefault or Localhost"
        caps = ctx.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            yield f"{where}: capabilities must drop ALL"
        added = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            yield f"{where}: capabilities may only add NET_BIND_SERVICE, not {sorted(added)}"


def violations(
    pod_spec: Mapping[str, Any], annotations: Mapping[str, str] | None = None
) -> list[str]:
    """Every Restricted-profile control the pod breaks (empty list: admitted)."""
    return [*_baseline(pod_spec, annotations or {}), *_restricted(pod_spec)]


def pod_templates(obj: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Mapping[str, str]]]:
    """(pod spec, pod annotations) of a Pod or of a workload's pod template."""
    if obj.get("kind") == "Pod":
        return [(obj.get("spec") or {}, obj.get("metadata", {}).get("annotations") or {})]
    template = (obj.get("spec") or {}).get("template")
    if template is None:
        return []
    return [(template.get("spec") or {}, (template.get("metadata") or {}).get("annotations") or {})]
