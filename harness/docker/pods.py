"""Run the objects of `op env render` as Docker containers: the docker track's "cluster".

`Pods.sync(objects, apply_set=…)` keeps one pod per Deployment (at most `max_replicas`) in
step with the objects: a pod is a busybox sandbox that owns the network namespace (on one
Docker network per run and namespace, Service names as aliases) plus its containers joined to
it; init containers run in order and must exit 0; main containers are restarted with back-off
when they exit. The pure translation is harness.docker.podspec; this module is its Docker shell.
Used by the docker track backend (harness/tracks/docker.py), tests and bench/pod_boot.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
import tarfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from harness import reap as reaper
from harness import waits
from harness.docker import podspec
from harness.docker.podspec import Backoff, ContainerRun, Obj, ObjectKey, PodPlan, PodSpecError
from harness.errors import HarnessError

RUN_LABEL = "greentic.test/run-id"
POD_LABEL = "greentic.test/pod"
DEPLOYMENT_LABEL = "greentic.test/deployment"
NAMESPACE_LABEL = "greentic.test/namespace"
ROLE_LABEL = "greentic.test/role"  # sandbox | init | main
CONTAINER_LABEL = "greentic.test/container"
SANDBOX_IMAGE = "busybox:1.36.1"
SANDBOX_COMMAND = ["sleep", "2147483647"]  # the pause container's job: hold the namespaces
SANDBOX_MEMORY = 16 * 2**20
VOLUMES_IN_SANDBOX = "/pod-volumes"  # emptyDirs stay mounted here for the pod's lifetime
LOOPBACK = "127.0.0.1"
POLL_S = 0.2
GRACE_S = 5.0
LOG_HISTORY = 5
IMAGES_HINT = "build the local images: `.venv/bin/python -m harness.docker.images`"
ENGINE_HINT = "start the engine with `sudo bash .ci/docker-setup.sh`"

__all__ = [
    "Backoff",
    "Pod",
    "PodNotReady",
    "PodSpecError",
    "Pods",
    "PodsError",
    "SyncResult",
    "reap",
]


class PodsError(HarnessError):
    """Raised when Docker refuses what a pod needs; the message names the pod and the fix."""


class PodNotReady(PodsError):
    """Raised when a pod does not become Ready in time (with its status and log tail)."""


@dataclass(frozen=True)
class SyncResult:
    """What one `sync` did: objects applied/pruned, and Deployments whose pods were started,
    replaced (pod template changed) or removed (no longer rendered)."""

    applied: int
    pruned: int
    started: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "pruned": self.pruned,
            "started": list(self.started),
            "replaced": list(self.replaced),
            "removed": list(self.removed),
        }


# -- docker plumbing ---------------------------------------------------------------------------


def _client() -> Any:
    import docker  # lazy: only the docker track needs the SDK

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # DockerException, requests errors: all mean "no engine"
        raise PodsError(f"Docker engine not reachable ({exc})\nHint: {ENGINE_HINT}") from None
    return client


@contextlib.contextmanager
def _docker_errors(what: str, hint: str = ENGINE_HINT) -> Iterator[None]:
    """The one place docker SDK / requests errors become a PodsError naming what failed."""
    import docker.errors
    import requests

    try:
        yield
    except docker.errors.APIError as exc:
        reason = exc.explanation or str(exc)
        raise PodsError(f"docker refused to {what}: {reason}\nHint: {hint}") from None
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise PodsError(f"docker failed to {what}: {exc}\nHint: {hint}") from None


def _not_found() -> type[Exception]:
    import docker.errors

    not_found: type[Exception] = docker.errors.NotFound
    return not_found


def _inspect_state(api: Any, container_id: str) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = api.inspect_container(container_id)["State"]
    except _not_found():
        return None
    return state


def _logs(api: Any, container_id: str, *, stdout: bool = True, stderr: bool = True) -> str:
    try:
        raw: bytes = api.logs(container_id, stdout=stdout, stderr=stderr)
    except _not_found():
        return ""
    return raw.decode("utf-8", "replace")


def _remove(api: Any, container_id: str) -> None:
    with contextlib.suppress(_not_found()):
        api.remove_container(container_id, force=True, v=True)


def _mount(spec: Mapping[str, Any]) -> Any:
    from docker.types import Mount

    return Mount(spec["target"], spec["source"], type=spec["type"], read_only=spec["read_only"])


def _redacted_inspect(info: Mapping[str, Any]) -> dict[str, Any]:
    """`docker inspect` output with environment values dropped (only the names stay)."""
    doc = json.loads(json.dumps(info, default=str))
    config = doc.get("Config") or {}
    config["Env"] = [e.split("=", 1)[0] + "=…" for e in config.get("Env") or []]
    return dict(doc)


# -- one pod -----------------------------------------------------------------------------------


@dataclass
class _Attempt:
    """One run of a main container (a restart creates a new container, as kubelet does)."""

    id: str
    index: int
    started: float


@dataclass
class _Main:
    """Restart bookkeeping of one main container."""

    run: ContainerRun
    attempt: _Attempt | None = None
    exited: bool = False
    restarts: int = 0
    backoff_step: int = 0
    last_exit_code: int | None = None
    next_start: float | None = None
    history: list[tuple[str, str]] = field(default_factory=list)  # (stdout, stderr) per run


class Pod:
    """One running pod (sandbox + init containers + main containers) and its kubelet thread.

    Example: `pod = pods.pod("gtc-router")`, `pod.wait_ready(60)`, then
    `httpx.get(pod.url(8080) + "/healthz")`; `pod.restarts()` counts restarts.
    """

    def __init__(self, owner: Pods, plan: PodPlan) -> None:
        self.owner = owner
        self.plan = plan
        self.name = plan.name
        self.namespace = plan.namespace
        self.deployment = plan.deployment
        self.host_ports: dict[int, int] = {}
        self.sandbox_id: str | None = None
        self.init_ids: dict[str, str] = {}
        self.failure: str | None = None
        self.failure_code: int | None = None
        self.reason: str | None = "ContainerCreating"
        self.terminated = False
        self._mains = {c.name: _Main(c) for c in plan.containers}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- names -----------------------------------------------------------------------------
    def _docker_name(self, suffix: str) -> str:
        return f"{self.owner.run_id}.{self.namespace}.{self.name}.{suffix}"

    def _volume_name(self, volume: str) -> str:
        return self._docker_name(f"vol-{volume}")

    def _labels(self, role: str, container: str = "") -> dict[str, str]:
        labels = {str(k): str(v) for k, v in self.plan.labels.items()}
        labels |= {
            RUN_LABEL: self.owner.run_id,
            NAMESPACE_LABEL: self.namespace,
            POD_LABEL: self.name,
            DEPLOYMENT_LABEL: self.deployment,
            ROLE_LABEL: role,
        }
        if container:
            labels[CONTAINER_LABEL] = container
        return labels

    @property
    def dir(self) -> Path:
        """Host directory of this pod's ConfigMap/Secret files."""
        return self.owner.work_dir / self.namespace / self.name

    # -- creation (sync calls this; the kubelet thread does the rest) -------------------------
    def create(self) -> None:
        """Volumes, projected files and the sandbox now; init + main containers in a thread."""
        api = self.owner.api
        plan = self.plan
        for empty_dir in plan.empty_dirs:
            opts = podspec.tmpfs_options(
                empty_dir,
                uid=plan.run_as_user,
                gid=plan.fs_group if plan.fs_group is not None else plan.run_as_group,
            )
            with _docker_errors(f"create volume {empty_dir.volume} of pod {self.name}"):
                api.create_volume(
                    self._volume_name(empty_dir.volume),
                    driver="local",
                    driver_opts=opts,
                    labels=self._labels("volume"),
                )
        self.refresh(plan)
        network = self.owner.ensure_network(self.namespace)
        mounts = [
            _mount(
                {
                    "target": f"{VOLUMES_IN_SANDBOX}/{e.volume}",
                    "source": self._volume_name(e.volume),
                    "type": "volume",
                    "read_only": False,
                }
            )
            for e in plan.empty_dirs
        ]
        with _docker_errors(f"create the sandbox of pod {self.name}", IMAGES_HINT):
            host = api.create_host_config(
                network_mode=network,
                mounts=mounts,
                port_bindings={p: (LOOPBACK, None) for p in plan.ports},
                read_only=True,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                mem_limit=SANDBOX_MEMORY,
            )
            endpoint = api.create_endpoint_config(aliases=list(plan.aliases))
            created = api.create_container(
                self.owner.sandbox_image,
                command=SANDBOX_COMMAND,
                name=self._docker_name("sandbox"),
                hostname=self.name[:63],
                user=plan.sandbox_user,
                labels=self._labels("sandbox"),
                ports=list(plan.ports),
                host_config=host,
                networking_config=api.create_networking_config({network: endpoint}),
                use_config_proxy=False,
            )
            self.sandbox_id = str(created["Id"])
            api.start(self.sandbox_id)
            info = api.inspect_container(self.sandbox_id)
        for key, bindings in (info["NetworkSettings"].get("Ports") or {}).items():
            if bindings:
                self.host_ports[int(key.split("/")[0])] = int(bindings[0]["HostPort"])
        self.owner.write_json(f"{self.namespace}/{self.name}/plan.json", podspec.describe(plan))
        self._thread = threading.Thread(
            target=self._kubelet, name=f"kubelet-{self.name}", daemon=True
        )
        self._thread.start()

    def refresh(self, plan: PodPlan) -> None:
        """Write the ConfigMap/Secret files (again): changed bytes appear in the running pod,
        as kubelet updates configMap volumes; a subPath mount keeps the old file, as there."""
        self.plan = plan
        for projection in plan.projections:
            root = self.dir / "volumes" / projection.volume
            root.mkdir(parents=True, exist_ok=True)
            root.chmod(0o755)
            wanted = {f.path for f in projection.files}
            for existing in sorted(root.rglob("*"), reverse=True):
                rel = existing.relative_to(root).as_posix()
                if existing.is_file() and rel not in wanted:
                    existing.unlink()
            for item in projection.files:
                self._write_projected(root / item.path, item.data, item.mode)

    def _write_projected(self, target: Path, data: bytes, mode: int) -> None:
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

    def _sources(self) -> dict[str, podspec.VolumeSource]:
        sources: dict[str, podspec.VolumeSource] = {
            e.volume: ("volume", self._volume_name(e.volume)) for e in self.plan.empty_dirs
        }
        for projection in self.plan.projections:
            root = self.dir / "volumes" / projection.volume
            sources[projection.volume] = ("bind", str(root.resolve()))
        return sources

    # -- the kubelet -------------------------------------------------------------------------
    def _fail(self, reason: str, message: str, code: int | None = None) -> None:
        with self._lock:
            self.reason, self.failure, self.failure_code = reason, message, code
        self.owner.write_text(f"{self.namespace}/{self.name}/failure.txt", message + "\n")

    def _kubelet(self) -> None:
        api: Any = None
        try:
            api = _client().api
            if not self._admit(api):
                return
            for run in self.plan.init_containers:
                if self._stop.is_set() or not self._run_init(api, run):
                    return
            with self._lock:
                self.reason = None
            for main in self._mains.values():
                self._start_main(api, main)
            while not self._stop.wait(self.owner.poll_s):
                for main in self._mains.values():
                    self._supervise(api, main)
        except Exception as exc:  # a kubelet never dies silently: the pod shows why
            if not self._stop.is_set():
                self._fail("KubeletError", f"pod {self.name}: {type(exc).__name__}: {exc}", 1)
        finally:
            if api is not None:
                api.close()

    def _admit(self, api: Any) -> bool:
        """Images present locally (never pulled) and runAsNonRoot honoured, as kubelet checks."""
        for run in (*self.plan.init_containers, *self.plan.containers):
            try:
                image = api.inspect_image(run.image)
            except _not_found():
                self._fail(
                    "ErrImageNeverPull",
                    f"pod {self.name}: container {run.name}: image {run.image} is not present "
                    f"locally and the docker track never pulls\nHint: {IMAGES_HINT}",
                    1,
                )
                return False
            if run.run_as_non_root:
                user = run.user if run.user is not None else str(image["Config"].get("User") or "")
                head = user.split(":", 1)[0]
                if head in ("", "0", "root"):
                    self._fail(
                        "CreateContainerConfigError",
                        f"pod {self.name}: container {run.name} has runAsNonRoot and image "
                        f"{run.image} will run as root\nHint: set runAsUser in its "
                        "securityContext",
                        1,
                    )
                    return False
        return True

    def _params(self, run: ContainerRun, name: str, role: str) -> tuple[dict[str, Any], Any]:
        params = podspec.docker_params(
            run,
            sources=self._sources(),
            network_mode=f"container:{self.sandbox_id}",
            labels=self._labels(role, run.name),
            name=name,
        )
        host = self.owner.api.create_host_config(
            mounts=[_mount(m) for m in params.mounts], **params.host
        )
        return params.create, host

    def _run_init(self, api: Any, run: ContainerRun) -> bool:
        """Run one init container to completion; False (pod failed) unless it exits 0."""
        create, host = self._params(run, self._docker_name(f"init-{run.name}"), "init")
        with self._lock:
            self.reason = f"Init:{run.name}"
        with _docker_errors(f"run init container {run.name} of pod {self.name}"):
            container_id = str(
                api.create_container(host_config=host, use_config_proxy=False, **create)["Id"]
            )
            self.init_ids[run.name] = container_id
            api.start(container_id)
        state = _inspect_state(api, container_id)
        while state is not None and state.get("Running") and not self._stop.wait(0.05):
            state = _inspect_state(api, container_id)
        if self._stop.is_set():
            return False
        code = int(state["ExitCode"]) if state is not None else -1
        log = _logs(api, container_id)
        self.owner.write_text(f"{self.namespace}/{self.name}/init-{run.name}.log", log)
        if code != 0:
            self._fail(
                "Init:Error",
                f"pod {self.name}: init container {run.name} exited {code}: "
                f"{waits.tail(log, 400) or '(no output)'}",
                code,
            )
            return False
        return True

    def _start_main(self, api: Any, main: _Main) -> None:
        index = 0 if main.attempt is None else main.attempt.index + 1
        create, host = self._params(main.run, self._docker_name(f"{main.run.name}.{index}"), "main")
        if main.attempt is not None:
            _remove(api, main.attempt.id)  # kubelet keeps one dead container; we keep its logs
        with _docker_errors(f"start container {main.run.name} of pod {self.name}"):
            container_id = str(
                api.create_container(host_config=host, use_config_proxy=False, **create)["Id"]
            )
            api.start(container_id)
        with self._lock:
            main.attempt = _Attempt(container_id, index, time.monotonic())
            main.exited = False
            main.next_start = None
            if index > 0:
                main.restarts += 1

    def _supervise(self, api: Any, main: _Main) -> None:
        """Notice an exit (keep its logs, schedule a restart with back-off) or restart now."""
        attempt = main.attempt
        if attempt is None:
            return
        if main.exited:
            if main.next_start is not None and time.monotonic() >= main.next_start:
                self._start_main(api, main)
            return
        state = _inspect_state(api, attempt.id)
        if state is None or state.get("Running") or state.get("Status") == "created":
            return
        out = _logs(api, attempt.id, stderr=False)
        err = _logs(api, attempt.id, stdout=False)
        self.owner.write_text(
            f"{self.namespace}/{self.name}/{main.run.name}.{attempt.index}.log",
            _logs(api, attempt.id),
        )
        now = time.monotonic()
        backoff = self.owner.backoff
        with self._lock:
            if now - attempt.started >= backoff.reset_after_s:
                main.backoff_step = 0
            main.exited = True
            main.last_exit_code = int(state.get("ExitCode", -1))
            main.history = [*main.history, (out, err)][-LOG_HISTORY:]
            main.next_start = now + backoff.delay(main.backoff_step)
            main.backoff_step += 1
            self.reason = "CrashLoopBackOff" if main.last_exit_code else "Completed"

    # -- observation -------------------------------------------------------------------------
    def _main(self, container: str | None) -> _Main:
        if container is None:
            return next(iter(self._mains.values()))
        try:
            return self._mains[container]
        except KeyError:
            raise PodsError(
                f"pod {self.name} has no container {container} (it has: {', '.join(self._mains)})"
            ) from None

    def container_id(self, container: str | None = None) -> str | None:
        """Docker id of the container's current run (None before it started)."""
        with self._lock:
            attempt = self._main(container).attempt
            return attempt.id if attempt is not None else None

    def restarts(self, container: str | None = None) -> int:
        """How many times kubelet (our thread) restarted the container."""
        with self._lock:
            return self._main(container).restarts

    def last_exit_code(self, container: str | None = None) -> int | None:
        with self._lock:
            return self._main(container).last_exit_code

    def running(self, container: str | None = None) -> bool:
        with self._lock:
            main = self._main(container)
            return main.attempt is not None and not main.exited and not self.terminated

    def exit_code(self) -> int | None:
        """While the pod is down: the failed init's or the main container's exit code."""
        with self._lock:
            if self.failure is not None:
                return self.failure_code if self.failure_code is not None else 1
            main = self._main(None)
            return main.last_exit_code if main.exited or self.terminated else None

    def logs(self) -> str:
        """Failure, then the main container's stdout and stderr (current run), for waits."""
        head = f"{self.failure}\n" if self.failure else ""
        return head + self.stdout() + self.stderr(previous=False)

    def stdout(self, container: str | None = None) -> str:
        """The current (or last) run's stdout."""
        with self._lock:
            main = self._main(container)
            attempt, exited, history = main.attempt, main.exited, list(main.history)
        if attempt is not None and not exited:
            return _logs(self.owner.api, attempt.id, stderr=False)
        return history[-1][0] if history else ""

    def stderr(self, container: str | None = None, *, previous: bool = True) -> str:
        """stderr of earlier runs (`kubectl logs --previous`, kept up to 5) then this run's."""
        with self._lock:
            main = self._main(container)
            attempt, exited, history = main.attempt, main.exited, list(main.history)
        earlier = "".join(err for _, err in history) if previous else ""
        if attempt is not None and not exited:
            return earlier + _logs(self.owner.api, attempt.id, stdout=False)
        return earlier if previous else (history[-1][1] if history else "")

    def host_port(self, port: int) -> int:
        """The 127.0.0.1 port Docker published for the pod's `port`."""
        try:
            return self.host_ports[port]
        except KeyError:
            raise PodsError(
                f"pod {self.name} publishes no port {port} (it has: "
                f"{', '.join(map(str, sorted(self.host_ports))) or 'none'})"
                "\nHint: declare it as a containerPort in the pod template"
            ) from None

    def url(self, port: int) -> str:
        return f"http://{LOOPBACK}:{self.host_port(port)}"

    def ready(self) -> bool:
        """Every main container runs and its readiness probe passes right now."""
        if self.failure is not None or self.terminated:
            return False
        return all(
            self.running(name) and self._probe(main.run) for name, main in self._mains.items()
        )

    def _probe(self, run: ContainerRun) -> bool:
        probe = run.readiness
        if probe is None:
            return True
        try:
            if probe.action == "http":
                assert probe.port is not None
                url = f"{self.url(probe.port)}{probe.path}"
                with httpx.Client(timeout=probe.timeout_s, trust_env=False) as client:
                    return 200 <= client.get(url).status_code < 400
            if probe.action == "tcp":
                assert probe.port is not None
                address = (LOOPBACK, self.host_port(probe.port))
                with socket.create_connection(address, timeout=probe.timeout_s):
                    return True
            container_id = self.container_id(run.name)
            if container_id is None:
                return False
            result = self.owner.api.exec_create(container_id, list(probe.command))
            self.owner.api.exec_start(result["Id"])
            return int(self.owner.api.exec_inspect(result["Id"]).get("ExitCode") or 0) == 0
        except (httpx.HTTPError, OSError, PodsError):
            return False
        except Exception as exc:
            import docker.errors

            if isinstance(exc, docker.errors.DockerException):
                return False
            raise

    def wait_ready(self, timeout: float, *, interval: float = 0.1) -> None:
        """Until Ready; fails fast (with the logs) when the pod failed or its container exited."""
        try:
            waits.Poll(
                what=f"pod {self.name} to be Ready",
                attempt=lambda: True if self.ready() else None,
                timing=waits.Timing(timeout=timeout, interval=interval),
                watch=self,
                hint=f"read {self.owner.logs_dir or 'the pod logs'} "
                f"({self.namespace}/{self.name}/); status: {self.status_line()}",
                status=self.status_line,
            ).run()
        except HarnessError as exc:
            raise PodNotReady(str(exc)) from None

    def status_line(self) -> str:
        main = self._main(None)
        state = "running" if self.running() else ("exited" if main.exited else "waiting")
        return (
            f"{self.reason or 'Running'}, {main.run.name} {state}, restarts {main.restarts}, "
            f"last exit {main.last_exit_code}"
        )

    def status(self) -> dict[str, Any]:
        """A JSON summary like `kubectl get pod -o json`'s status (for artifacts and tests)."""
        with self._lock:
            containers = [
                {
                    "name": name,
                    "id": main.attempt.id if main.attempt else None,
                    "state": "terminated"
                    if self.terminated
                    else ("exited" if main.exited else ("running" if main.attempt else "waiting")),
                    "restarts": main.restarts,
                    "last_exit_code": main.last_exit_code,
                }
                for name, main in self._mains.items()
            ]
            return {
                "pod": self.name,
                "namespace": self.namespace,
                "deployment": self.deployment,
                "reason": self.reason,
                "failure": self.failure,
                "terminated": self.terminated,
                "host_ports": {str(k): v for k, v in self.host_ports.items()},
                "aliases": list(self.plan.aliases),
                "containers": containers,
            }

    def inspect(self, container: str | None = None) -> dict[str, Any]:
        """`docker inspect` of the container's current run."""
        container_id = self.container_id(container)
        if container_id is None:
            raise PodsError(f"pod {self.name}: container {container or 'main'} has not started")
        with _docker_errors(f"inspect pod {self.name}"):
            info: dict[str, Any] = self.owner.api.inspect_container(container_id)
        return info

    def read_file(self, path: str, container: str | None = None) -> bytes | None:
        """A file as `container` sees it (emptyDirs are read through the sandbox, so this
        works while the container is down); None when absent."""
        run = self._main(container).run
        best = max(
            (
                m
                for m in run.mounts
                if path == m.target or path.startswith(m.target.rstrip("/") + "/")
            ),
            key=lambda m: len(m.target),
            default=None,
        )
        if best is not None:
            rel = path[len(best.target) :].lstrip("/")
            kind, source = self._sources()[best.volume]
            if kind == "bind":
                try:
                    return (Path(source) / rel).read_bytes()
                except OSError:
                    return None
            target_id, inner = self.sandbox_id, f"{VOLUMES_IN_SANDBOX}/{best.volume}/{rel}"
        else:
            target_id, inner = self.container_id(container), path
        if target_id is None:
            return None
        try:
            stream, _ = self.owner.api.get_archive(target_id, inner)
        except _not_found():
            return None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = next((m for m in tar.getmembers() if m.isfile()), None)
            handle = tar.extractfile(member) if member is not None else None
            return handle.read() if handle is not None else None

    # -- ending ------------------------------------------------------------------------------
    def stop(self, grace_s: float | None = None) -> int | None:
        """Terminate the main containers (SIGTERM, then SIGKILL after the grace period) and
        stop restarting them; the main container's exit code."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        api = self.owner.api
        grace = self.owner.grace_s if grace_s is None else grace_s
        for main in self._mains.values():
            attempt = main.attempt
            if attempt is None or main.exited:
                continue
            with contextlib.suppress(_not_found()):
                api.stop(attempt.id, timeout=max(1, round(grace)))
            state = _inspect_state(api, attempt.id) or {}
            out = _logs(api, attempt.id, stderr=False)
            err = _logs(api, attempt.id, stdout=False)
            self.owner.write_text(
                f"{self.namespace}/{self.name}/{main.run.name}.{attempt.index}.log",
                _logs(api, attempt.id),
            )
            with self._lock:
                main.exited = True
                main.last_exit_code = int(state.get("ExitCode", -1)) if state else None
                main.history = [*main.history, (out, err)][-LOG_HISTORY:]
        with self._lock:
            self.terminated = True
            self.reason = "Terminated"
        return self.last_exit_code()

    def delete(self) -> None:
        """Stop the pod, keep its logs and status in the artifacts, remove all it created."""
        self.stop()
        api = self.owner.api
        with contextlib.suppress(Exception):
            for main in self._mains.values():
                if main.attempt is not None:
                    info = api.inspect_container(main.attempt.id)
                    self.owner.write_json(
                        f"{self.namespace}/{self.name}/inspect-{main.run.name}.json",
                        _redacted_inspect(info),
                    )
        self.owner.write_json(f"{self.namespace}/{self.name}/status.json", self.status())
        ids = [m.attempt.id for m in self._mains.values() if m.attempt is not None]
        ids += list(self.init_ids.values())
        ids += [self.sandbox_id] if self.sandbox_id else []
        for container_id in ids:
            _remove(api, container_id)
        for empty_dir in self.plan.empty_dirs:
            with contextlib.suppress(_not_found()):
                api.remove_volume(self._volume_name(empty_dir.volume), force=True)
        shutil.rmtree(self.dir, ignore_errors=True)


# -- the set of pods ---------------------------------------------------------------------------


class Pods:
    """Rendered objects as Docker pods, labelled `greentic.test/run-id=<run_id>`.

    Example:
        with Pods(run_id, work_dir=tmp / "pods", logs_dir=artifacts / "pods") as pods:
            result = pods.sync(render.render(inputs), apply_set="env:local")
            pods.pod("gtc-router").wait_ready(60)

    One pod per Deployment by default (`max_replicas=1`: the router's 2 replicas would only
    double the boot work on one engine). NetworkPolicies, PDBs and Ingresses are recorded as
    applied but not enforced. Leaving the `with` removes everything unless `keep`.
    """

    def __init__(
        self,
        run_id: str,
        *,
        work_dir: Path,
        logs_dir: Path | None = None,
        keep: bool = False,
        backoff: Backoff | None = None,
        max_replicas: int = 1,
        sandbox_image: str = SANDBOX_IMAGE,
        poll_s: float = POLL_S,
        grace_s: float = GRACE_S,
    ) -> None:
        self.run_id = run_id
        self.work_dir = work_dir
        self.logs_dir = logs_dir
        self.keep = keep
        self.backoff = backoff or Backoff()
        self.max_replicas = max_replicas
        self.sandbox_image = sandbox_image
        self.poll_s = poll_s
        self.grace_s = grace_s
        self._client: Any = None
        self._objects: dict[ObjectKey, Obj] = {}
        self._sets: dict[str, list[ObjectKey]] = {}
        self._pods: dict[tuple[str, str, int], Pod] = {}
        self._networks: dict[str, str] = {}

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> Pods:
        self._client = _client()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def api(self) -> Any:
        if self._client is None:
            raise RuntimeError("Pods is not open (use it as a context manager)")
        return self._client.api

    def close(self) -> None:
        """Remove every pod and network of this run (unless keep); statuses to the artifacts."""
        if self._client is None:
            return
        if self.keep:
            for pod in self._pods.values():
                self.write_json(f"{pod.namespace}/{pod.name}/status.json", pod.status())
        else:
            for pod in list(self._pods.values()):
                try:
                    pod.delete()
                except Exception as exc:  # keep going: the run's label sweep gets the rest
                    self.write_text(f"{pod.namespace}/{pod.name}/delete-failed.txt", f"{exc}\n")
            self._pods.clear()
            for network in self._networks.values():
                with contextlib.suppress(Exception):
                    self.api.remove_network(network)
            self._networks.clear()
        self._client.close()
        self._client = None

    # -- artifacts -----------------------------------------------------------------------------
    def write_text(self, rel: str, text: str) -> None:
        if self.logs_dir is None:
            return
        target = self.logs_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def write_json(self, rel: str, doc: Any) -> None:
        self.write_text(rel, json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")

    # -- networks ------------------------------------------------------------------------------
    def network_name(self, namespace: str) -> str:
        return f"{self.run_id}.{namespace}"

    def ensure_network(self, namespace: str) -> str:
        """The run's bridge network for `namespace` (Service aliases are scoped to it)."""
        if namespace in self._networks:
            return self._networks[namespace]
        name = self.network_name(namespace)
        hint = (
            "if Docker ran out of address pools, remove stale runs: "
            "`.venv/bin/python -m harness.docker.pods reap --all` (or `docker network prune`)"
        )
        with _docker_errors(f"create network {name}", hint):
            self.api.create_network(
                name,
                driver="bridge",
                labels={RUN_LABEL: self.run_id, NAMESPACE_LABEL: namespace},
            )
        self._networks[namespace] = name
        return name

    # -- sync ----------------------------------------------------------------------------------
    def sync(self, objects: Iterable[Obj], *, apply_set: str = "default") -> SyncResult:
        """Make the pods match `objects` (and every other apply set's): start new pods, replace
        those whose template (or Service aliases) changed, remove those no longer rendered.

        Objects of `apply_set` that a previous sync applied and this one omits are pruned (an
        ApplySet, as `kubectl apply --prune` has); other sets are left alone.
        """
        desired = podspec.index(objects)
        previous = self._sets.get(apply_set, [])
        pruned = [key for key in previous if key not in desired]
        merged = {k: v for k, v in self._objects.items() if k not in pruned}
        merged.update(desired)
        plans = {
            plan.key: plan for plan in podspec.pod_plans(merged, max_replicas=self.max_replicas)
        }
        self._objects = merged  # plans built: nothing below can fail on the objects themselves
        self._sets[apply_set] = list(desired)
        started: list[str] = []
        replaced: list[str] = []
        removed: list[str] = []
        for key, pod in list(self._pods.items()):
            plan = plans.get(key)
            if plan is None:
                pod.delete()
                del self._pods[key]
                removed.append(pod.deployment)
            elif plan.identity != pod.plan.identity or pod.terminated:
                pod.delete()
                del self._pods[key]
                replaced.append(pod.deployment)
            else:
                pod.refresh(plan)
        for key, plan in plans.items():
            if key in self._pods:
                continue
            pod = Pod(self, plan)
            self._pods[key] = pod
            try:
                pod.create()
            except BaseException:
                pod.delete()
                del self._pods[key]
                raise
            if plan.deployment not in replaced:
                started.append(plan.deployment)
        result = SyncResult(
            applied=len(desired),
            pruned=len(pruned),
            started=tuple(started),
            replaced=tuple(replaced),
            removed=tuple(removed),
        )
        return result

    # -- queries -------------------------------------------------------------------------------
    def pods(self, *, namespace: str | None = None, deployment: str | None = None) -> list[Pod]:
        return [
            p
            for p in self._pods.values()
            if (namespace is None or p.namespace == namespace)
            and (deployment is None or p.deployment == deployment)
        ]

    def pod(self, deployment: str, *, namespace: str | None = None) -> Pod:
        """The (first) pod of `deployment`; PodsError when it has none."""
        found = self.pods(namespace=namespace, deployment=deployment)
        if not found:
            have = ", ".join(sorted({p.deployment for p in self._pods.values()})) or "none"
            raise PodsError(f"no pod runs Deployment {deployment} (running: {have})")
        return found[0]

    def objects(self, apply_set: str | None = None) -> list[Obj]:
        """What is applied (in one set, or all)."""
        keys: Sequence[ObjectKey] = (
            self._sets.get(apply_set, []) if apply_set is not None else list(self._objects)
        )
        return [self._objects[k] for k in keys if k in self._objects]


# -- the sweep ---------------------------------------------------------------------------------


def reap(run_id: str) -> list[str]:
    """Remove every container, volume and network labelled with `run_id`; what was removed."""
    try:
        import docker

        client = docker.from_env(timeout=60)
        client.ping()
    except Exception:  # no SDK or no engine: nothing of ours can be running
        return []
    removed: list[str] = []
    label = {"label": f"{RUN_LABEL}={run_id}"}
    try:
        for container in client.containers.list(all=True, filters=label):
            with contextlib.suppress(Exception):
                container.remove(force=True)
                removed.append(f"container {container.name}")
        for volume in client.volumes.list(filters=label):
            with contextlib.suppress(Exception):
                volume.remove(force=True)
                removed.append(f"volume {volume.name}")
        for network in client.networks.list(filters=label):
            with contextlib.suppress(Exception):
                network.remove()
                removed.append(f"network {network.name}")
    finally:
        client.close()
    return removed


def run_ids() -> list[str]:
    """Run ids that still own containers, volumes or networks on this engine."""
    client = _client()
    try:
        label = {"label": RUN_LABEL}
        found = {c.labels.get(RUN_LABEL) for c in client.containers.list(all=True, filters=label)}
        found |= {
            n.attrs.get("Labels", {}).get(RUN_LABEL) for n in client.networks.list(filters=label)
        }
        found |= {
            (v.attrs.get("Labels") or {}).get(RUN_LABEL) for v in client.volumes.list(filters=label)
        }
    finally:
        client.close()
    return sorted(r for r in found if r)


reaper.register(reap)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m harness.docker.pods reap RUN_ID… | --all`: remove what kept runs left."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m harness.docker.pods", description=main.__doc__)
    parser.add_argument("verb", choices=["reap", "list"])
    parser.add_argument("run_ids", nargs="*")
    parser.add_argument("--all", action="store_true", help="every run id found on the engine")
    args = parser.parse_args(argv)
    try:
        found = run_ids()
    except PodsError as exc:
        print(f"error: {exc}")
        return 1
    if args.verb == "list":
        print("\n".join(found) or "no pods of any run")
        return 0
    targets = found if args.all else list(args.run_ids)
    if not targets:
        print("nothing to reap (name run ids, or --all)")
        return 0
    for run_id in targets:
        for removed in reap(run_id):
            print(f"{run_id}: removed {removed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
