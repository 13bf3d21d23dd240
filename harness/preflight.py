"""`doctor`-style preflight: can this machine run a track, and if not, what exactly to do.

Each check is a pure function over an injected `Host` (which / importable / a `Runner`), so
unit tests feed it canned answers. A failing check yields ONE line naming what is missing and
the fix; kind-track verbs also point at `--track docker`. Called by `demo.py doctor`, the
kind-track verbs (`require`) and the kind fixtures."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml

from harness import k8s_fixtures
from harness.errors import HarnessError
from harness.kube.commands import Completed, Runner, SubprocessRunner
from harness.kube.kind import (
    KIND_DOWNLOAD,
    KIND_SHA256,
    KIND_VERSION,
    kind_version_cmd,
)
from harness.kube.kubectl import kubectl_cmd

Status = Literal["ok", "warn", "fail"]
PYTHON_DEPS = (
    "pydantic",
    "click",
    "rich",
    "yaml",
    "httpx",
    "uvicorn",
    "httptools",
    "cryptography",
    "ulid",
    "tenacity",
)
TRACK_DEPS = {"docker": ("docker",), "kind": ("docker", "kubernetes")}
INSTALL_DEPS = ".venv/bin/pip install -e '.[dev]'  (or `make setup`)"
USE_DOCKER_TRACK = "or run this verb with `--track docker` (same scenario, pods as containers)"
PROBE_TIMEOUT_S = 120


class PreflightFailed(HarnessError):
    """Raised when a track's requirements are not met; one line per miss, then the hint."""

    def __init__(self, track: str, failed: Sequence[Finding]) -> None:
        self.track = track
        self.failed = list(failed)
        self.message = (
            f"the {track} track cannot run here: "
            + "; ".join(f"{f.name}: {f.detail}" for f in failed)
            + "".join(f"\n{f.line()}" for f in failed)
        )
        self.hint = (
            f"install what is missing (above), {USE_DOCKER_TRACK}"
            if track == "kind"
            else "install what is missing (above)"
        )
        super().__init__(f"{self.message}\nHint: {self.hint}")


@dataclass(frozen=True)
class Finding:
    """One check's verdict: what was looked at, what was seen, and the fix when not ok."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "fail"

    def line(self) -> str:
        mark = {"ok": "✓", "warn": "!", "fail": "✗"}[self.status]
        text = f"{mark} {self.name}: {self.detail}"
        return f"{text} — {self.fix}" if self.fix and self.status != "ok" else text


class Host(Protocol):
    """What the checks may ask of the machine."""

    runner: Runner

    def which(self, name: str) -> str | None: ...

    def importable(self, module: str) -> bool: ...


@dataclass
class RealHost:
    """This machine: PATH lookups, import specs and real subprocesses."""

    runner: Runner = field(default_factory=SubprocessRunner)

    def which(self, name: str) -> str | None:
        return shutil.which(name)

    def importable(self, module: str) -> bool:
        return importlib.util.find_spec(module) is not None


# -- the checks (pure over Host) -------------------------------------------------------------


def check_python_deps(host: Host, track: str = "host") -> Finding:
    wanted = (*PYTHON_DEPS, *TRACK_DEPS.get(track, ()))
    missing = [m for m in wanted if not host.importable(m)]
    if missing:
        return Finding("python deps", "fail", f"cannot import {', '.join(missing)}", INSTALL_DEPS)
    return Finding("python deps", "ok", f"{len(wanted)} modules importable")


def check_docker(host: Host, *, kind_verb: bool = False) -> Finding:
    needs = "the kind and docker tracks need one" if kind_verb else "the docker track needs one"
    if host.which("docker") is None:
        return Finding(
            "docker", "fail", "`docker` is not on PATH", f"install Docker Engine ({needs})"
        )
    info = host.runner.run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=15)
    if not info.ok:
        why = _first_line(info) or "no answer"
        return Finding(
            "docker",
            "fail",
            f"the Docker engine does not answer ({why})",
            "start it (`sudo systemctl start docker`, or `dockerd &`) and retry `docker info`",
        )
    return Finding("docker", "ok", f"engine {info.stdout.strip() or 'answers'}")


def parse_kind_version(text: str) -> str | None:
    match = re.search(r"kind (v\d+\.\d+\.\d+)", text)
    return match.group(1) if match else None


def kind_install_hint(platform: str = "linux-amd64") -> str:
    url = KIND_DOWNLOAD.format(version=KIND_VERSION, platform=platform)
    return (
        f"install kind {KIND_VERSION}: curl -Lo kind {url} && "
        f"echo '{KIND_SHA256[platform]}  kind' | sha256sum -c && install kind /usr/local/bin/"
    )


def check_kind(host: Host) -> Finding:
    if host.which("kind") is None:
        return Finding(
            "kind", "fail", "`kind` is not on PATH", f"{kind_install_hint()}; {USE_DOCKER_TRACK}"
        )
    result = host.runner.run(kind_version_cmd(), timeout=15)
    version = parse_kind_version(result.stdout) if result.ok else None
    if version is None:
        return Finding(
            "kind", "fail", f"`kind version` failed ({_first_line(result)})", kind_install_hint()
        )
    if version != KIND_VERSION:
        return Finding(
            "kind",
            "warn",
            f"{version} found; the kind track pins {KIND_VERSION} (its node image is built for it)",
            kind_install_hint(),
        )
    return Finding("kind", "ok", version)


def parse_kubectl_client(text: str) -> str | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    version = doc.get("clientVersion", {}).get("gitVersion") if isinstance(doc, dict) else None
    return str(version) if version else None


def check_kubectl(host: Host) -> Finding:
    install = "install kubectl (https://kubernetes.io/docs/tasks/tools/)"
    if host.which("kubectl") is None:
        return Finding(
            "kubectl", "fail", "`kubectl` is not on PATH", f"{install}; {USE_DOCKER_TRACK}"
        )
    result = host.runner.run(["kubectl", "version", "--client", "-o", "json"], timeout=15)
    version = parse_kubectl_client(result.stdout) if result.ok else None
    if version is None:
        return Finding(
            "kubectl", "fail", f"`kubectl version` failed ({_first_line(result)})", install
        )
    return Finding("kubectl", "ok", version)


def check_context(host: Host, context: str, *, kubeconfig: Path | None = None) -> Finding:
    argv = kubectl_cmd(
        context, "version", "-o", "json", "--request-timeout=5s", kubeconfig=kubeconfig
    )
    result = host.runner.run(argv, timeout=20)
    server = None
    if result.ok:
        try:
            server = json.loads(result.stdout).get("serverVersion", {}).get("gitVersion")
        except ValueError:
            server = None
    if not server:
        return Finding(
            "kube context",
            "fail",
            f"context `{context}` is not reachable ({_first_line(result) or 'no server version'})",
            f"`python demo.py kind-up` creates it, or pass --context; {USE_DOCKER_TRACK}",
        )
    return Finding("kube context", "ok", f"`{context}` answers (server {server})")


def check_image(host: Host, tag: str, *, what: str = "runtime image", build: str = "") -> Finding:
    """A content-hash tag present locally means the image matches today's sources."""
    result = host.runner.run(["docker", "image", "inspect", "--format", "{{.Id}}", tag], timeout=15)
    if not result.ok:
        fix = build or "build it first (the harness builds it on the first docker/kind run)"
        return Finding(what, "fail", f"`{tag}` is not built for the current sources", fix)
    return Finding(what, "ok", f"`{tag}` is up to date ({result.stdout.strip()[:19]})")


# -- pod-to-pod connectivity (needs a cluster) -----------------------------------------------


def pod_network_steps(kubectl: Sequence[str], namespace: str) -> list[tuple[list[str], str | None]]:
    """The commands of the pod-to-pod check, with stdin: apply, wait for the client, clean up."""
    objs = k8s_fixtures.connectivity_probe(namespace)
    manifest = yaml.safe_dump_all(objs, sort_keys=False)
    client = f"pod/{k8s_fixtures.PROBE_CLIENT}"
    return [
        ([*kubectl, "apply", "-f", "-"], manifest),
        (
            [
                *kubectl,
                "-n",
                namespace,
                "wait",
                client,
                "--for=jsonpath={.status.phase}=Succeeded",
                f"--timeout={PROBE_TIMEOUT_S}s",
            ],
            None,
        ),
        ([*kubectl, "-n", namespace, "logs", client], None),
        ([*kubectl, "delete", "namespace", namespace, "--wait=false"], None),
    ]


def pod_network_finding(applied: Completed, waited: Completed, logs: Completed) -> Finding:
    if not applied.ok:
        return Finding(
            "pod network",
            "fail",
            f"probe pods not created ({_first_line(applied)})",
            "check the cluster",
        )
    if waited.ok and "ok" in logs.stdout:
        return Finding("pod network", "ok", "a pod reached another pod's Service")
    return Finding(
        "pod network",
        "fail",
        "a busybox pod could not wget another pod's Service (same-node pod networking is broken, "
        "seeds/001 §05)",
        f"{USE_DOCKER_TRACK}; the kind track's pulls need pod-to-pod traffic",
    )


def check_pod_network(host: Host, kubectl: Sequence[str], namespace: str) -> Finding:
    """Run the probe on a live cluster: apply → wait Succeeded → logs → delete (always)."""
    results: list[Completed] = []
    steps = pod_network_steps(kubectl, namespace)
    try:
        for argv, stdin in steps[:3]:
            results.append(host.runner.run(argv, timeout=PROBE_TIMEOUT_S + 30, input=stdin))
            if not results[-1].ok and len(results) == 1:
                break
    finally:
        cleanup, _ = steps[3]
        host.runner.run(cleanup, timeout=60)
    empty = Completed((), 1)
    while len(results) < 3:
        results.append(empty)
    return pod_network_finding(*results)


# -- tracks ----------------------------------------------------------------------------------


def track_checks(host: Host, track: str) -> list[Finding]:
    """The checks a track needs before it may start (no cluster is touched here)."""
    findings = [check_python_deps(host, track)]
    if track in ("docker", "kind"):
        findings.append(check_docker(host, kind_verb=track == "kind"))
    if track == "kind":
        findings += [check_kind(host), check_kubectl(host)]
    return findings


def require(track: str, *, host: Host | None = None) -> list[Finding]:
    """The track's findings; PreflightFailed listing every failing line when one fails."""
    findings = track_checks(host or RealHost(), track)
    failed = [f for f in findings if not f.ok]
    if failed:
        raise PreflightFailed(track, failed)
    return findings


def doctor(
    host: Host | None = None,
    *,
    context: str | None = None,
    kubeconfig: Path | None = None,
    images: Mapping[str, str] | None = None,
    pod_network: Callable[[Host], Finding] | None = None,
) -> list[Finding]:
    """Every check: deps, docker, kind, kubectl; the context, images and pod network if given."""
    host = host or RealHost()
    findings = track_checks(host, "kind")
    docker_ok = findings[1].ok
    for what, tag in (images or {}).items():
        findings.append(
            check_image(host, tag, what=what) if docker_ok else _skipped(what, "docker")
        )
    if context is not None:
        findings.append(check_context(host, context, kubeconfig=kubeconfig))
        if pod_network is not None and findings[-1].ok:
            findings.append(pod_network(host))
    elif pod_network is None:
        findings.append(
            Finding("pod network", "warn", "not checked (no cluster; `kind-up` first)", "")
        )
    return findings


def report(findings: Sequence[Finding]) -> str:
    return "\n".join(f.line() for f in findings)


def _skipped(what: str, because: str) -> Finding:
    return Finding(what, "warn", f"not checked ({because} is missing)")


def _first_line(result: Completed) -> str:
    text = (result.stderr or result.stdout).strip()
    return text.splitlines()[0][:200] if text else ""


def as_json(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    return [
        {"name": f.name, "status": f.status, "detail": f.detail, "fix": f.fix} for f in findings
    ]
