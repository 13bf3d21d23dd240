"""The worker of one revision on the docker track: its Deployment's pod, as a `PodWorker`.

Looks its pod up on every call, so after a settle that replaced the pod it reads the new one
(as `kubectl logs deploy/<name>` would); `port_forward` instead binds to the pod current when
it opens, connects inside it and fails once that pod is gone (harness.docker.execforward).
Used by the docker track.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from harness import waits
from harness.docker.pod import Pod
from harness.docker.pods import Pods
from harness.errors import HarnessError


class PodsView(Protocol):
    """What a worker needs of its backend (`DockerBackend`): the pods and the namespace. A
    protocol, so the worker does not import the track that creates it."""

    namespace: str

    @property
    def pods(self) -> Pods: ...


SERVE_PORT = 8080
STAGE_HOME = "/var/greentic"
POLL_S = 0.1
CRASH_LOOP_RESTARTS = 2  # two restarts with back-off between them: a loop, not a blip


class CrashLoopNotSeen(HarnessError):
    """Raised when a worker expected to crash-loop became Ready, or did not loop in time."""


@dataclass
class DockerWorker:
    """The pod of one Deployment (implements `PodWorker`)."""

    backend: PodsView
    env_id: str
    deployment: str

    @property
    def pod(self) -> Pod:
        return self.backend.pods.pod(self.deployment, namespace=self.backend.namespace)

    @property
    def base_url(self) -> str:
        return self.pod.url(SERVE_PORT)

    def exit_code(self) -> int | None:
        return self.pod.exit_code()

    def stdout(self) -> str:
        return self.pod.stdout()

    def stderr(self) -> str:
        """stderr of the earlier runs (a crash loop's refusals) then of the current one."""
        return self.pod.stderr()

    def logs(self) -> str:
        return self.pod.logs()

    def restarts(self) -> int:
        return self.pod.restarts()

    def ready(self) -> bool:
        return self.pod.ready()

    def previous_logs(self) -> str:
        """stdout+stderr of the last worker container that exited (`logs --previous`)."""
        return self.pod.previous_logs()

    def inspect(self) -> dict[str, Any]:
        """`docker inspect` of the worker container's current run."""
        return self.pod.inspect()

    def wait_banner(self, regex: str, deadline_s: float) -> re.Match[str]:
        return waits.until_log(
            self,
            regex,
            text=self.stdout,
            timing=waits.Timing(timeout=deadline_s, interval=POLL_S),
            hint=f"read the pod logs under {self.backend.pods.logs_dir} ({self.pod.name})",
        ).wait()

    def wait_exited(self, deadline_s: float) -> int:
        return waits.until_exit(
            self, timing=waits.Timing(timeout=deadline_s, interval=POLL_S)
        ).wait()

    def wait_crash_loop(self, deadline_s: float) -> str:
        """Until the pod was restarted CRASH_LOOP_RESTARTS times with back-off, never Ready
        meanwhile: `restart loop (N restarts)`. CrashLoopNotSeen when it became Ready."""
        pod = self.pod

        def looped() -> str | None:
            if pod.ready():
                raise CrashLoopNotSeen(
                    f"pod {pod.name} became Ready after {pod.restarts()} restart(s): "
                    "it is not crash-looping"
                )
            count = pod.restarts()
            return f"restart loop ({count} restarts)" if count >= CRASH_LOOP_RESTARTS else None

        try:
            return waits.Poll(
                what=f"pod {pod.name} to crash-loop",
                attempt=looped,
                timing=waits.Timing(timeout=deadline_s, interval=POLL_S),
                hint=f"read the pod logs under {self.backend.pods.logs_dir} ({pod.name})",
                status=pod.status_line,
            ).run()
        except waits.WaitTimeout as exc:
            raise CrashLoopNotSeen(str(exc)) from None

    def env_file(self, rel: str) -> bytes | None:
        """A file of the pod's own store (its HOME emptyDir, read through the sandbox)."""
        return self.pod.read_file(f"{STAGE_HOME}/.greentic/environments/{self.env_id}/{rel}")

    @contextmanager
    def port_forward(self, port: int) -> Iterator[str]:
        """`http://127.0.0.1:<local>` relayed to `127.0.0.1:<port>` inside the pod running now
        (harness.docker.execforward: its loopback listeners answer, the peer is loopback, as
        with kubectl); connections are reset once that pod is replaced or deleted."""
        from harness.docker.execforward import exec_forward

        pod, pods = self.pod, self.backend.pods
        if pod.sandbox_id is None:
            raise HarnessError(f"pod {pod.name} has no sandbox yet: nothing to forward to")
        sandbox = pod.sandbox_id
        with exec_forward(pods.api, sandbox, port, lambda: pods.current(pod), name=pod.name) as url:
            yield url

    def stop(self) -> int | None:
        """SIGTERM the worker container (the pod is replaced on the next reconcile, as a
        deleted pod is recreated by its Deployment); its exit code."""
        return self.pod.stop()
