"""One pod on Docker: a busybox sandbox owning the network namespace, its volumes, its kubelet.

`create()` makes the volumes and the sandbox (on the run's network for the namespace, Service
names as aliases, ports published on 127.0.0.1) and starts the kubelet thread
(harness.docker.kubelet) that runs the init and main containers joined to the sandbox. The
rest observes: restarts, logs (current and previous runs), readiness probes, files. Created by
harness.docker.pods.Pods.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from harness import waits
from harness.docker import engine, podspec, probes
from harness.docker.engine import (
    CONTAINER_LABEL,
    DEPLOYMENT_LABEL,
    LOOPBACK,
    NAMESPACE_LABEL,
    POD_LABEL,
    ROLE_LABEL,
    RUN_LABEL,
    PodNotReady,
    PodsError,
)
from harness.docker.kubelet import Kubelet, Main
from harness.docker.podspec import Backoff, ContainerRun, PodPlan
from harness.docker.volumes import PodVolumes, read_archive, read_host
from harness.errors import HarnessError


class PodOwner(Protocol):
    """What a pod needs of the `Pods` that owns it (engine client, run identity, back-off,
    where to write): a protocol, so this module does not import the one that creates pods."""

    run_id: str
    work_dir: Path
    logs_dir: Path | None
    backoff: Backoff
    sandbox_image: str
    poll_s: float
    grace_s: float

    @property
    def api(self) -> Any: ...

    def ensure_network(self, namespace: str) -> str: ...

    def write_text(self, rel: str, text: str) -> None: ...

    def write_json(self, rel: str, doc: Any) -> None: ...


SANDBOX_COMMAND = ["sleep", "2147483647"]  # the pause container's job: hold the namespaces
SANDBOX_MEMORY = 16 * 2**20


class Pod:
    """One running pod (sandbox + init containers + main containers) and its kubelet thread.

    Example: `pod = pods.pod("gtc-router")`, `pod.wait_ready(60)`, then
    `httpx.get(pod.url(8080) + "/healthz")`; `pod.restarts()` counts restarts.
    """

    def __init__(self, owner: PodOwner, plan: PodPlan) -> None:
        self.owner = owner
        self.plan = plan
        self.name = plan.name
        self.namespace = plan.namespace
        self.deployment = plan.deployment
        self.host_ports: dict[int, int] = {}
        self.sandbox_id: str | None = None
        self.failure: str | None = None
        self.failure_code: int | None = None
        self.reason: str | None = "ContainerCreating"
        self.terminated = False
        self.volumes = PodVolumes(
            plan,
            prefix=self._docker_name("").rstrip("."),
            root=owner.work_dir / self.namespace / self.name,
            labels=self._labels("volume"),
        )
        self.kubelet = Kubelet(self, backoff=owner.backoff, poll_s=owner.poll_s)
        self._lock = self.kubelet.lock

    # -- names -----------------------------------------------------------------------------
    def _docker_name(self, suffix: str) -> str:
        return f"{self.owner.run_id}.{self.namespace}.{self.name}.{suffix}"

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
        return self.volumes.root

    # -- creation (sync calls this; the kubelet thread does the rest) -------------------------
    def create(self) -> None:
        """Volumes, projected files and the sandbox now; init + main containers in a thread."""
        api = self.owner.api
        self._clear_leftovers(api)
        self.volumes.create(api, self.name)
        network = self.owner.ensure_network(self.namespace)
        plan = self.plan
        with engine.docker_errors(f"create the sandbox of pod {self.name}", engine.IMAGES_HINT):
            host = api.create_host_config(
                network_mode=network,
                mounts=self.volumes.sandbox_mounts(),
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
        self.kubelet.start()

    def _clear_leftovers(self, api: Any) -> None:
        """Containers of this very pod left by an earlier process of the same run (its objects
        outlived it in the cluster state; its kubelet did not): removed, as after a reboot."""
        labels = [f"{RUN_LABEL}={self.owner.run_id}", f"{POD_LABEL}={self.name}"]
        with engine.docker_errors(f"list leftovers of pod {self.name}"):
            for found in api.containers(all=True, filters={"label": labels}):
                engine.remove(api, str(found["Id"]))

    def refresh(self, plan: PodPlan) -> None:
        """The same pod under a re-applied plan: its ConfigMap/Secret files are rewritten."""
        self.plan = plan
        self.volumes.refresh(plan)

    # -- what the kubelet asks of its pod ----------------------------------------------------
    def params(self, run: ContainerRun, suffix: str, role: str) -> tuple[dict[str, Any], Any]:
        params = podspec.docker_params(
            run,
            sources=self.volumes.sources(),
            network_mode=f"container:{self.sandbox_id}",
            labels=self._labels(role, run.name),
            name=self._docker_name(suffix),
        )
        host = self.owner.api.create_host_config(
            mounts=[engine.mount(m) for m in params.mounts], **params.host
        )
        return params.create, host

    def fail(self, reason: str, message: str, code: int | None = None) -> None:
        with self._lock:
            self.reason, self.failure, self.failure_code = reason, message, code
        self.write_log("failure.txt", message + "\n")

    def set_reason(self, reason: str | None) -> None:
        with self._lock:
            self.reason = reason

    def write_log(self, rel: str, text: str) -> None:
        self.owner.write_text(f"{self.namespace}/{self.name}/{rel}", text)

    # -- observation -------------------------------------------------------------------------
    def _main(self, container: str | None) -> Main:
        mains = self.kubelet.mains
        if container is None:
            return next(iter(mains.values()))
        try:
            return mains[container]
        except KeyError:
            raise PodsError(
                f"pod {self.name} has no container {container} (it has: {', '.join(mains)})"
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

    def _current(self, container: str | None) -> tuple[str | None, list[tuple[str, str]]]:
        """(id of the running attempt or None, logs of the exited runs)."""
        with self._lock:
            main = self._main(container)
            attempt = main.attempt if main.attempt is not None and not main.exited else None
            return (attempt.id if attempt else None), list(main.history)

    def stdout(self, container: str | None = None) -> str:
        """The current (or last) run's stdout."""
        running, history = self._current(container)
        if running is not None:
            return engine.logs(self.owner.api, running, stderr=False)
        return history[-1][0] if history else ""

    def stderr(self, container: str | None = None, *, previous: bool = True) -> str:
        """stderr of earlier runs (`kubectl logs --previous`, kept up to 5) then this run's."""
        running, history = self._current(container)
        earlier = "".join(err for _, err in history) if previous else ""
        if running is not None:
            return earlier + engine.logs(self.owner.api, running, stdout=False)
        return earlier if previous else (history[-1][1] if history else "")

    def previous_logs(self, container: str | None = None) -> str:
        """stdout then stderr of the last run that exited (`kubectl logs --previous`)."""
        _, history = self._current(container)
        return "".join(history[-1]) if history else ""

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
            self.running(name) and probes.passes(self, name, main.run.readiness)
            for name, main in self.kubelet.mains.items()
        )

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

    def _state(self, main: Main) -> str:
        if self.terminated:
            return "terminated"
        return "exited" if main.exited else ("running" if main.attempt else "waiting")

    def status(self) -> dict[str, Any]:
        """A JSON summary like `kubectl get pod -o json`'s status (for artifacts and tests)."""
        with self._lock:
            containers = [
                {
                    "name": name,
                    "id": main.attempt.id if main.attempt else None,
                    "state": self._state(main),
                    "restarts": main.restarts,
                    "last_exit_code": main.last_exit_code,
                }
                for name, main in self.kubelet.mains.items()
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
        with engine.docker_errors(f"inspect pod {self.name}"):
            info: dict[str, Any] = self.owner.api.inspect_container(container_id)
        return info

    def read_file(self, path: str, container: str | None = None) -> bytes | None:
        """A file as `container` sees it (emptyDirs are read through the sandbox, so this
        works while the container is down); None when absent."""
        where, inner = self.volumes.locate(self._main(container).run, path)
        if where == "host":
            return read_host(inner)
        target = self.sandbox_id if where == "sandbox" else self.container_id(container)
        return read_archive(self.owner.api, target, inner) if target is not None else None

    # -- ending ------------------------------------------------------------------------------
    def stop(self, grace_s: float | None = None) -> int | None:
        """Terminate the main containers (SIGTERM, then SIGKILL after the grace period) and
        stop restarting them; the main container's exit code."""
        grace = self.owner.grace_s if grace_s is None else grace_s
        self.kubelet.stop(self.owner.api, grace)
        with self._lock:
            self.terminated = True
            self.reason = "Terminated"
        return self.last_exit_code()

    def delete(self) -> None:
        """Stop the pod, keep its logs and status in the artifacts, remove all it created."""
        self.stop()
        api = self.owner.api
        for name, main in self.kubelet.mains.items():
            if main.attempt is None:
                continue
            try:
                info = api.inspect_container(main.attempt.id)
            except Exception:  # gone already: nothing to keep
                continue
            self.owner.write_json(
                f"{self.namespace}/{self.name}/inspect-{name}.json", engine.redacted_inspect(info)
            )
        self.owner.write_json(f"{self.namespace}/{self.name}/status.json", self.status())
        ids = self.kubelet.container_ids() + ([self.sandbox_id] if self.sandbox_id else [])
        for container_id in ids:
            engine.remove(api, container_id)
        self.volumes.remove(api)
