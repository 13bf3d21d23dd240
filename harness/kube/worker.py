"""The worker pod of one revision on the kind track, read and driven through kubectl.

`KindWorker` implements `tracks.PodWorker`: logs come from `kubectl logs [--previous]`, state
from the pod's container status (restarts, Ready, `CrashLoopBackOff`), `stop()` is SIGTERM to
PID 1 via `kubectl exec`, `base_url` goes through the self-restarting port-forward of the
revision's selector and `port_forward(port)` through a forward bound to the pod itself.
Created by `KindBackend.start` and `KindBackend.worker`.
"""

from __future__ import annotations

import itertools
import json
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from greentic.deployer.k8s import naming
from greentic.deployer.k8s.pods import STAGE_HOME
from harness import waits
from harness.kube.commands import Completed, KindError
from harness.kube.kubectl import (
    WORKER_CONTAINER,
    ContainerState,
    cat_cmd,
    container_state,
    debug_read_cmd,
    exited_code,
    label_selector,
    logs_cmd,
    newest_pod,
    pods_cmd,
    sigterm_cmd,
)
from harness.kube.portforward import PodForward, PortForward, PortForwardError


class KubectlBackend(Protocol):
    """What a worker needs of its backend (`KindBackend`): the namespace, kubectl, forwards
    and cleanup. A protocol, so the worker does not import the track that creates it."""

    namespace: str

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = ...
    ) -> Completed: ...

    def port_forward(self, selector: str, port: int, *, quick: bool = False) -> PortForward: ...

    def pod_forward(self, pod: str, port: int) -> PodForward: ...

    def on_close(self, fn: Callable[[], None]) -> None: ...


ROUTER = "gtc-router"
STOP_TIMEOUT_S = 60.0
POLL_S = 1.0
READY_GRACE_S = 15.0  # three readiness periods of the rendered worker (periodSeconds 5)
UNREACHABLE = "http://127.0.0.1:9"  # discard port: a refused connection, like a never-Ready pod
STORE_DIR = "/var/greentic/.greentic/environments"  # the worker's own store in its pod
NO_SUCH_FILE = "No such file or directory"  # what `cat` (coreutils and busybox) says
CONTAINER_NOT_FOUND = "container not found"  # exec into a container that is not running
STORE_VOLUME = "greentic-home"  # the rendered pod's store volume, mounted at pods.STAGE_HOME
DEBUG_READ_TIMEOUT_S = 60.0
_READERS = itertools.count(1)


class EnvFileUnreadable(KindError):
    """Raised when a file of the worker's store could not be read (which is not "absent")."""


T = TypeVar("T")


@dataclass
class KindWorker:
    """The worker pod of one revision (implements `tracks.PodWorker` over kubectl); with no
    revision, the router pod that serves probes while nothing is routed."""

    backend: KubectlBackend
    env_id: str
    revision_id: str | None
    expect_exit: bool = False
    forward: PortForward | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    @property
    def deployment(self) -> str:
        return naming.worker_name(self.revision_id) if self.revision_id else ROUTER

    @property
    def selector(self) -> str:
        if self.revision_id:
            return f"greentic.ai/revision={self.revision_id}"
        return label_selector(naming.common_labels(self.env_id, "router"))

    @property
    def container(self) -> str:
        """`worker`, or `router` when nothing is routed and the router serves probes only."""
        return WORKER_CONTAINER if self.revision_id else "router"

    def pod(self) -> Mapping[str, Any] | None:
        """The newest live pod of this revision, None when there is none (yet)."""
        result = self.backend.kubectl(
            *pods_cmd((), self.backend.namespace, self.selector), check=False
        )
        return newest_pod(json.loads(result.stdout)) if result.ok else None

    def pod_name(self) -> str | None:
        pod = self.pod()
        return str(pod["metadata"]["name"]) if pod is not None else None

    def state(self) -> ContainerState | None:
        pod = self.pod()
        return container_state(pod, self.container) if pod is not None else None

    @property
    def base_url(self) -> str:
        """Through the port-forward; a refusing worker that is not Ready is UNREACHABLE (a
        refused connection, as at a pod that never became Ready) instead of a long wait."""
        if self.forward is None:
            if self.expect_exit and not self._becomes_ready():
                return UNREACHABLE
            pf = self.backend.port_forward(self.selector, 8080, quick=self.expect_exit)
            try:
                pf.start()
            except PortForwardError:
                return UNREACHABLE
            self.forward = pf
            self.backend.on_close(pf.stop)
        return self.forward.url()

    def _becomes_ready(self) -> bool:
        """Ready now, or while its container keeps running within READY_GRACE_S (the banner
        comes before the first readiness probe passes: a real kubelet probes every 5 s); a
        crashed or waiting container is not waited for."""
        deadline = self.clock() + READY_GRACE_S
        while True:
            state = self.state()
            if state is not None and state.ready:
                return True
            if state is None or not state.running or self.clock() >= deadline:
                return False
            self.sleep(POLL_S)

    def exit_code(self) -> int | None:
        state = self.state()
        return exited_code(state) if state is not None else None

    def _logs(self, *, previous: bool) -> str:
        name = self.pod_name()
        if name is None:
            return ""
        argv = logs_cmd(
            (), self.backend.namespace, name, previous=previous, container=self.container
        )
        result = self.backend.kubectl(*argv, check=False)
        return result.stdout if result.ok else ""

    def stdout(self) -> str:
        """The current (or last) container's log: stdout and stderr merged, as kubelet keeps."""
        return self._logs(previous=False)

    def stderr(self) -> str:
        """`kubectl logs --previous` (where a crash loop's refusal is) then the current log."""
        return self._logs(previous=True) + self._logs(previous=False)

    def logs(self) -> str:
        return self.stderr()

    def restarts(self) -> int:
        """How often kubelet restarted the worker container (PodWorker)."""
        state = self.state()
        return state.restarts if state is not None else 0

    def ready(self) -> bool:
        """The pod's readiness probe (`GET /healthz`) passes (PodWorker)."""
        state = self.state()
        return state is not None and state.ready

    def crash_loop_reason(self) -> str | None:
        """`CrashLoopBackOff` while kubelet backs off restarting the worker, else its reason."""
        state = self.state()
        return state.waiting_reason if state is not None else None

    def wait_started(self, deadline_s: float) -> ContainerState:
        """Until the worker container has run at least once (its init containers are done)."""

        def started() -> ContainerState | None:
            state = self.state()
            ran = state is not None and (state.running or state.last_exit_code is not None)
            return state if ran else None

        return self._poll(
            f"worker pod `{self.selector}` to start its container", started, deadline_s
        )

    def _timing(self, deadline_s: float) -> waits.Timing:
        return waits.Timing(timeout=deadline_s, interval=POLL_S, clock=self.clock, sleep=self.sleep)

    @property
    def _describe(self) -> str:
        """The command that shows why the worker's pods are where they are."""
        return f"kubectl -n {self.backend.namespace} describe pods -l {self.selector}"

    def _poll(self, what: str, attempt: Callable[[], T | None], deadline_s: float) -> T:
        """Until `attempt` holds; a timeout names the container state last seen."""
        return waits.Poll(
            what=what,
            attempt=attempt,
            timing=self._timing(deadline_s),
            hint=self._describe,
            status=lambda: str(self.state()),
        ).run()

    def wait_banner(self, regex: str, deadline_s: float) -> re.Match[str]:
        return waits.until_log(
            self,
            regex,
            text=self.stdout,
            timing=self._timing(deadline_s),
            hint=self._describe,
        ).wait()

    def wait_exited(self, deadline_s: float) -> int:
        return waits.until_exit(self, timing=self._timing(deadline_s)).wait()

    def env_file(self, rel: str) -> bytes | None:
        """A file of the pod's own store via `kubectl exec cat`; None only when `cat` says it
        does not exist. A read that could not happen (no pod, a crash-looping container that
        cannot be exec'd into) raises `EnvFileUnreadable`: "absent" must be seen, not assumed,
        or "no runtime-config.json left behind" could never fail."""
        path = f"{STORE_DIR}/{self.env_id}/{rel}"
        name = self.pod_name()
        if name is None:
            raise EnvFileUnreadable(
                f"cannot read {path}: no live pod of `{self.selector}`", hint=self._describe
            )
        argv = cat_cmd((), self.backend.namespace, name, self.container, path)
        result = self.backend.kubectl(*argv, check=False)
        if not result.ok and CONTAINER_NOT_FOUND in (result.stderr or result.stdout):
            result = self._read_by_debug_container(name, path)  # crash-looping: nothing to exec
        if result.ok:
            return result.stdout.encode()
        said = (result.stderr or result.stdout).strip()
        if NO_SUCH_FILE in said:
            return None
        raise EnvFileUnreadable(
            f"cannot read {path} in pod {name} (container `{self.container}`): "
            f"{said.splitlines()[-1][:200] if said else f'exit {result.returncode}'}",
            hint=f"kubectl -n {self.backend.namespace} describe pod {name}",
        )

    def _read_by_debug_container(self, name: str, path: str) -> Completed:
        """`cat path` in an ephemeral container that mounts the store volume (a real kubelet
        cannot exec into a container that is not running; the local cluster found this). Its
        log is the file (exit 0) or cat's refusal; a reader that does not finish is an error."""
        pod = self.pod()
        spec = pod.get("spec", {}) if pod is not None else {}
        image = next(
            (c["image"] for c in spec.get("containers", []) if c.get("name") == self.container),
            None,
        )
        if image is None:
            return Completed((), 1, "", f"pod {name} has no container `{self.container}`")
        reader = f"read-{next(_READERS)}"
        custom = {
            "volumeMounts": [{"name": STORE_VOLUME, "mountPath": STAGE_HOME, "readOnly": True}]
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="gtc-debug-") as spec_file:
            json.dump(custom, spec_file)
            spec_file.flush()
            argv = debug_read_cmd(
                (), self.backend.namespace, name, reader, image, spec_file.name, path
            )
            started = self.backend.kubectl(*argv, check=False)
        if not started.ok:
            return started
        code = self._ephemeral_exit(reader)
        logs = self.backend.kubectl(
            "-n", self.backend.namespace, "logs", f"pod/{name}", "-c", reader, check=False
        )
        if code is None:
            return Completed((), 1, "", f"the reader container {reader} did not finish")
        return Completed((), code, logs.stdout if code == 0 else "", logs.stdout)

    def _ephemeral_exit(self, reader: str) -> int | None:
        """The exit code of ephemeral container `reader` once it terminated (None: timed out)."""
        deadline = self.clock() + DEBUG_READ_TIMEOUT_S
        while self.clock() < deadline:
            pod = self.pod() or {}
            statuses = pod.get("status", {}).get("ephemeralContainerStatuses", [])
            for status in statuses:
                done = status.get("state", {}).get("terminated")
                if status.get("name") == reader and done is not None:
                    return int(done.get("exitCode", 1))
            self.sleep(POLL_S / 2)
        return None

    def stop(self) -> int | None:
        """SIGTERM to the worker (PID 1) as kubelet would send it; its exit code, read from the
        restarted container's `lastState`. The pod and its emptyDir stay (a container restart,
        like the host track's second boot of the same pod), so it serves again afterwards."""
        pod = self.pod()
        if pod is None:
            return None
        name = pod["metadata"]["name"]
        before = container_state(pod, self.container).restarts
        argv = sigterm_cmd((), self.backend.namespace, name, self.container)
        self.backend.kubectl(*argv, check=False)
        if self.forward is not None:
            self.forward.stop()
            self.forward = None

        def restarted() -> ContainerState | None:
            state = self.state()
            return state if state is not None and state.restarts > before else None

        state = waits.Poll(
            what=f"worker pod {name} to exit on SIGTERM",
            attempt=restarted,
            timing=self._timing(STOP_TIMEOUT_S),
            hint=f"kubectl -n {self.backend.namespace} describe pod {name}",
        ).run()
        return state.last_exit_code

    def previous_logs(self) -> str:
        """`kubectl logs --previous`: the last crashed container's output (PodWorker)."""
        return self._logs(previous=True)

    def wait_crash_loop(self, deadline_s: float) -> str:
        """Until kubelet reports `CrashLoopBackOff` for the worker (PodWorker); the reason."""

        def looping() -> str | None:
            reason = self.crash_loop_reason()
            return reason if reason == "CrashLoopBackOff" else None

        return self._poll(
            f"worker `{self.selector}` to enter CrashLoopBackOff", looping, deadline_s
        )

    @contextmanager
    def port_forward(self, port: int) -> Iterator[str]:
        """`http://127.0.0.1:<local>` forwarded to `port` of the pod running now (PodWorker).

        Bound to that pod for good (`kubectl port-forward pod/<name>`): unlike `base_url`'s
        forward it does not follow a rollout, so requests fail once the pod is gone."""
        name = self.pod_name()
        if name is None:
            raise PortForwardError(
                f"no pod of `{self.selector}` in `{self.backend.namespace}` to port-forward to",
                hint=self._describe,
            )
        with self.backend.pod_forward(name, port) as base:
            yield base
