"""The Restricted checker flags every control it claims to cover, and passes a good pod."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import psa

GOOD: dict[str, Any] = {
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "initContainers": [
        {
            "name": "init",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
        }
    ],
    "containers": [
        {
            "name": "main",
            "ports": [{"containerPort": 8080}],
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
            },
        }
    ],
    "volumes": [{"name": "home", "emptyDir": {}}, {"name": "cm", "configMap": {"name": "x"}}],
}


def main(spec: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = spec["containers"][0]
    return c


BREAKS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "hostNetwork": (lambda s: s.update(hostNetwork=True), "hostNetwork must not be true"),
    "hostPID": (lambda s: s.update(hostPID=True), "hostPID must not be true"),
    "hostIPC": (lambda s: s.update(hostIPC=True), "hostIPC must not be true"),
    "hostProcess": (
        lambda s: s["securityContext"].update(windowsOptions={"hostProcess": True}),
        "hostProcess must not be true",
    ),
    "privileged": (lambda s: main(s)["securityContext"].update(privileged=True), "privileged"),
    "baseline caps": (
        lambda s: main(s)["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
        "beyond the baseline set",
    ),
    "hostPath": (
        lambda s: s["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
        "hostPath",
    ),
    "hostPort": (lambda s: main(s)["ports"][0].update(hostPort=80), "hostPort 80"),
    "apparmor": (
        lambda s: main(s)["securityContext"].update(appArmorProfile={"type": "Unconfined"}),
        "appArmorProfile must not be Unconfined",
    ),
    "selinux type": (
        lambda s: s["securityContext"].update(seLinuxOptions={"type": "spc_t"}),
        "seLinuxOptions.type `spc_t`",
    ),
    "selinux user": (
        lambda s: main(s)["securityContext"].update(seLinuxOptions={"user": "root"}),
        "seLinuxOptions.user",
    ),
    "procMount": (
        lambda s: main(s)["securityContext"].update(procMount="Unmasked"),
        "procMount must be Default",
    ),
    "seccomp unconfined": (
        lambda s: main(s)["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        "seccompProfile must be RuntimeDefault or Localhost",
    ),
    "sysctl": (
        lambda s: s["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
        "sysctl `kernel.msgmax`",
    ),
    "volume type": (
        lambda s: s["volumes"].append({"name": "n", "nfs": {"server": "x", "path": "/"}}),
        "type ['nfs'] is not allowed",
    ),
    "privilege escalation": (
        lambda s: s["initContainers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
        "initContainer init: allowPrivilegeEscalation must be false",
    ),
    "runAsNonRoot": (
        lambda s: s["securityContext"].pop("runAsNonRoot"),
        "runAsNonRoot must be true",
    ),
    "runAsNonRoot false": (
        lambda s: main(s)["securityContext"].update(runAsNonRoot=False),
        "runAsNonRoot must be true",
    ),
    "runAsUser 0": (
        lambda s: main(s)["securityContext"].update(runAsUser=0),
        "runAsUser must not be 0",
    ),
    "seccomp missing": (
        lambda s: s["securityContext"].pop("seccompProfile"),
        "seccompProfile must be RuntimeDefault",
    ),
    "drop ALL": (
        lambda s: main(s)["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
        "capabilities must drop ALL",
    ),
    "restricted add": (
        lambda s: main(s)["securityContext"]["capabilities"].update(add=["CHOWN"]),
        "may only add NET_BIND_SERVICE",
    ),
}


def test_good_pod_is_admitted() -> None:
    assert psa.violations(GOOD) == []


@pytest.mark.parametrize("control", sorted(BREAKS))
def test_each_control_is_checked(control: str) -> None:
    spec = copy.deepcopy(GOOD)
    breaker, expected = BREAKS[control]
    breaker(spec)
    found = psa.violations(spec)
    assert any(expected in v for v in found), found


def test_apparmor_annotation() -> None:
    key = "container.apparmor.security.beta.kubernetes.io/main"
    assert psa.violations(GOOD, {key: "unconfined"})
    assert psa.violations(GOOD, {key: "runtime/default"}) == []


def test_pod_templates() -> None:
    dep = {
        "kind": "Deployment",
        "spec": {"template": {"metadata": {"annotations": {"a": "b"}}, "spec": GOOD}},
    }
    assert psa.pod_templates(dep) == [(GOOD, {"a": "b"})]
    assert psa.pod_templates({"kind": "Pod", "metadata": {}, "spec": GOOD}) == [(GOOD, {})]
    assert psa.pod_templates({"kind": "Service", "spec": {}}) == []
