"""Does this cluster enforce NetworkPolicies? Detected with a probe, never assumed.

`Capability.NETWORK_POLICY` is what checks that depend on enforcement declare; a cluster's
CNI may ignore policies (flannel, older kindnet, some managed clusters), and then a check
that "the env's own policies allow the pull" proves nothing. The probe, in a throwaway
namespace labelled with the run (deleted at the end, also on a failure):

1. a busybox httpd pod and a busybox client pod; the client GETs the server's pod IP — it
   must answer (else the pod network itself is broken: an error, not a verdict);
2. a deny-all ingress NetworkPolicy on the namespace;
3. the same GET, a few times: dropped → enforced; still answered every time → not enforced.

Each GET is bounded by busybox's `timeout` applet (not `wget -T`, which segfaults on Debian's
busybox). The verdict is cached per cluster (its kubectl argv) for the process. Called by the
providers (`enforces_network_policy`); every command goes through the injectable Runner.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from greentic.deployer.k8s.pods import container_security, pod_security
from harness.kube.commands import COMMAND_TIMEOUT_S, Completed, ProviderError, Runner
from harness.kube.kubectl import RUN_LABEL

SERVER = "netpol-server"
CLIENT = "netpol-client"
PORT = 8080
TRY_S = 3  # one GET's bound
ATTEMPTS = 5  # GETs after the deny-all (policy programming is not instant)
PAUSE_S = 1.0
READY_TIMEOUT_S = 120

Obj = dict[str, Any]


@dataclass(frozen=True)
class Detection:
    """The probe's verdict and what it saw (the skip reason when not enforced)."""

    enforced: bool
    detail: str


_CACHE: dict[tuple[str, ...], Detection] = {}


# -- the probe's objects and commands (pure) ---------------------------------------------------


def probe_namespace(run_id: str) -> str:
    return f"gtc-netpol-{run_id.lower()}"[:63].rstrip("-")


def _pod(name: str, namespace: str, image: str, script: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": pod_security(),
            "containers": [
                {
                    "name": name,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sh", "-c", script],
                    "securityContext": container_security(),
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


def probe_objects(namespace: str, image: str, run_id: str) -> list[Obj]:
    """The namespace (run-labelled), an httpd server pod and an idle client pod."""
    serve = (
        f"mkdir -p /tmp/www && echo ok > /tmp/www/index.html && exec httpd -f -p {PORT} -h /tmp/www"
    )
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace, "labels": {RUN_LABEL: run_id}},
        },
        _pod(SERVER, namespace, image, serve),
        _pod(CLIENT, namespace, image, "exec sleep 3600"),
    ]


def deny_all(namespace: str) -> Obj:
    """Selects every pod of the namespace for ingress and allows nothing."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "gtc-netpol-deny-all", "namespace": namespace},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


def fetch_args(namespace: str, ip: str) -> list[str]:
    """kubectl args: the client GETs the server's pod IP, bounded to TRY_S seconds."""
    url = f"http://{ip}:{PORT}/"
    return ["-n", namespace, "exec", CLIENT, "--", "timeout", str(TRY_S), "wget", "-q", "-O-", url]


# -- running it ----------------------------------------------------------------------------------


@dataclass
class _Probe:
    kubectl: tuple[str, ...]
    runner: Runner
    namespace: str

    def run(
        self, *args: str, input: str | None = None, timeout: float = COMMAND_TIMEOUT_S
    ) -> Completed:
        return self.runner.run([*self.kubectl, *args], timeout=timeout, input=input)

    def must(
        self, *args: str, input: str | None = None, timeout: float = COMMAND_TIMEOUT_S
    ) -> Completed:
        done = self.run(*args, input=input, timeout=timeout)
        if not done.ok:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [
                f"exit {done.returncode}"
            ]
            raise ProviderError(
                f"the NetworkPolicy probe failed at `kubectl {' '.join(args[:4])}`: {tail[0][:200]}"
                f" — check the cluster (`kubectl get pods -n {self.namespace}`)"
            )
        return done

    def apply(self, objects: Sequence[Obj]) -> None:
        text = yaml.safe_dump_all(list(objects), sort_keys=False)
        self.must("apply", "-f", "-", input=text)


def detect(
    kubectl: Sequence[str],
    runner: Runner,
    image: str,
    *,
    run_id: str,
    sleep: Callable[[float], None] = time.sleep,
) -> Detection:
    """Run the probe once (see the module docstring); the namespace is deleted whatever happens."""
    ns = probe_namespace(run_id)
    probe = _Probe(tuple(kubectl), runner, ns)
    try:
        probe.apply(probe_objects(ns, image, run_id))
        probe.must(
            "-n", ns, "wait", "--for=condition=Ready", f"pod/{SERVER}", f"pod/{CLIENT}",
            f"--timeout={READY_TIMEOUT_S}s", timeout=READY_TIMEOUT_S + 30,
        )  # fmt: skip
        pod = json.loads(probe.must("-n", ns, "get", "pod", SERVER, "-o", "json").stdout)
        ip = str(pod.get("status", {}).get("podIP") or "")
        if not ip or not probe.run(*fetch_args(ns, ip), timeout=TRY_S + 30).ok:
            raise ProviderError(
                f"the NetworkPolicy probe's client could not reach its server pod ({ip or 'no IP'})"
                " before any policy — the pod network is broken: `python demo.py doctor`"
            )
        probe.apply([deny_all(ns)])
        for attempt in range(1, ATTEMPTS + 1):
            if not probe.run(*fetch_args(ns, ip), timeout=TRY_S + 30).ok:
                return Detection(True, f"a deny-all policy dropped pod-to-pod HTTP (try {attempt})")
            sleep(PAUSE_S)
        return Detection(
            False,
            f"a deny-all NetworkPolicy let pod-to-pod HTTP through {ATTEMPTS} times "
            "(its CNI does not enforce NetworkPolicies)",
        )
    finally:
        probe.run("delete", "namespace", ns, "--wait=false", "--ignore-not-found")


def detect_once(
    kubectl: Sequence[str],
    runner: Runner,
    image: str,
    *,
    run_id: str,
    sleep: Callable[[float], None] = time.sleep,
) -> Detection:
    """`detect`, cached per cluster (its kubectl argv: context and kubeconfig) per process."""
    key = tuple(kubectl)
    if key not in _CACHE:
        _CACHE[key] = detect(kubectl, runner, image, run_id=run_id, sleep=sleep)
    return _CACHE[key]
