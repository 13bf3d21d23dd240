"""The kubelet of one pod: admit, run init containers in order, run and restart the mains.

A thread per pod: images must be present locally (never pulled) and `runAsNonRoot` honoured;
init containers run to completion and must exit 0; a main container that exits has its logs
kept (the last five runs) and is started again after a back-off (`Backoff`), as kubelet's
CrashLoopBackOff does. The pod (harness.docker.pod) reads the bookkeeping under `lock`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness import waits
from harness.docker import engine
from harness.docker.podspec import Backoff, ContainerRun, PodPlan

LOG_HISTORY = 5


@dataclass
class Attempt:
    """One run of a main container (a restart creates a new container, as kubelet does)."""

    id: str
    index: int
    started: float


@dataclass
class Main:
    """Restart bookkeeping of one main container."""

    run: ContainerRun
    attempt: Attempt | None = None
    exited: bool = False
    restarts: int = 0
    backoff_step: int = 0
    last_exit_code: int | None = None
    next_start: float | None = None
    history: list[tuple[str, str]] = field(default_factory=list)  # (stdout, stderr) per run

    def keep_logs(self, out: str, err: str) -> None:
        self.history = [*self.history, (out, err)][-LOG_HISTORY:]


class PodHost(Protocol):
    """What the kubelet needs from its pod."""

    name: str
    plan: PodPlan

    def params(self, run: ContainerRun, suffix: str, role: str) -> tuple[dict[str, Any], Any]:
        """(create_container kwargs, host config) of one container of the pod."""
        ...

    def fail(self, reason: str, message: str, code: int | None = None) -> None: ...

    def set_reason(self, reason: str | None) -> None: ...

    def write_log(self, rel: str, text: str) -> None: ...


class Kubelet:
    """Runs the containers of `pod` in a daemon thread until `stop()`."""

    def __init__(
        self,
        pod: PodHost,
        *,
        backoff: Backoff,
        poll_s: float,
        connect: Callable[[], Any] = engine.client,
    ) -> None:
        self.pod = pod
        self.backoff = backoff
        self.poll_s = poll_s
        self.connect = connect
        self.mains = {c.name: Main(c) for c in pod.plan.containers}
        self.init_ids: dict[str, str] = {}
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"kubelet-{self.pod.name}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        api: Any = None
        try:
            api = self.connect().api
            if not self._admit(api):
                return
            for run in self.pod.plan.init_containers:
                if self.stopping.is_set() or not self._run_init(api, run):
                    return
            self.pod.set_reason(None)
            for main in self.mains.values():
                self._start_main(api, main)
            while not self.stopping.wait(self.poll_s):
                for main in self.mains.values():
                    self._supervise(api, main)
        except Exception as exc:  # a kubelet never dies silently: the pod shows why
            if not self.stopping.is_set():
                self.pod.fail(
                    "KubeletError", f"pod {self.pod.name}: {type(exc).__name__}: {exc}", 1
                )
        finally:
            if api is not None:
                api.close()

    def _admit(self, api: Any) -> bool:
        """Images present locally (never pulled) and runAsNonRoot honoured, as kubelet checks."""
        name = self.pod.name
        for run in (*self.pod.plan.init_containers, *self.pod.plan.containers):
            try:
                image = api.inspect_image(run.image)
            except engine.not_found():
                self.pod.fail(
                    "ErrImageNeverPull",
                    f"pod {name}: container {run.name}: image {run.image} is not present "
                    f"locally and the docker track never pulls\nHint: {engine.IMAGES_HINT}",
                    1,
                )
                return False
            user = run.user if run.user is not None else str(image["Config"].get("User") or "")
            if run.run_as_non_root and user.split(":", 1)[0] in ("", "0", "root"):
                self.pod.fail(
                    "CreateContainerConfigError",
                    f"pod {name}: container {run.name} has runAsNonRoot and image {run.image} "
                    "will run as root\nHint: set runAsUser in its securityContext",
                    1,
                )
                return False
        return True

    def _run_init(self, api: Any, run: ContainerRun) -> bool:
        """Run one init container to completion; False (pod failed) unless it exits 0."""
        create, host = self.pod.params(run, f"init-{run.name}", "init")
        self.pod.set_reason(f"Init:{run.name}")
        with engine.docker_errors(f"run init container {run.name} of pod {self.pod.name}"):
            container_id = str(
                api.create_container(host_config=host, use_config_proxy=False, **create)["Id"]
            )
            self.init_ids[run.name] = container_id
            api.start(container_id)
        state = engine.inspect_state(api, container_id)
        while state is not None and state.get("Running") and not self.stopping.wait(0.05):
            state = engine.inspect_state(api, container_id)
        if self.stopping.is_set():
            return False
        code = int(state["ExitCode"]) if state is not None else -1
        log = engine.logs(api, container_id)
        self.pod.write_log(f"init-{run.name}.log", log)
        if code != 0:
            self.pod.fail(
                "Init:Error",
                f"pod {self.pod.name}: init container {run.name} exited {code}: "
                f"{waits.tail(log, 400) or '(no output)'}",
                code,
            )
            return False
        return True

    def _start_main(self, api: Any, main: Main) -> None:
        index = 0 if main.attempt is None else main.attempt.index + 1
        create, host = self.pod.params(main.run, f"{main.run.name}.{index}", "main")
        if main.attempt is not None:
            engine.remove(api, main.attempt.id)  # kubelet keeps one dead container; we keep logs
        with engine.docker_errors(f"start container {main.run.name} of pod {self.pod.name}"):
            container_id = str(
                api.create_container(host_config=host, use_config_proxy=False, **create)["Id"]
            )
            api.start(container_id)
        with self.lock:
            main.attempt = Attempt(container_id, index, time.monotonic())
            main.exited = False
            main.next_start = None
            if index > 0:
                main.restarts += 1

    def _supervise(self, api: Any, main: Main) -> None:
        """Notice an exit (keep its logs, schedule a restart with back-off) or restart now."""
        attempt = main.attempt
        if attempt is None:
            return
        if main.exited:
            if main.next_start is not None and time.monotonic() >= main.next_start:
                self._start_main(api, main)
            return
        state = engine.inspect_state(api, attempt.id)
        if state is None or state.get("Running") or state.get("Status") == "created":
            return
        self._collect(api, main, attempt, state)
        now = time.monotonic()
        with self.lock:
            if now - attempt.started >= self.backoff.reset_after_s:
                main.backoff_step = 0
            main.next_start = now + self.backoff.delay(main.backoff_step)
            main.backoff_step += 1
        self.pod.set_reason("CrashLoopBackOff" if main.last_exit_code else "Completed")

    def _collect(self, api: Any, main: Main, attempt: Attempt, state: dict[str, Any]) -> None:
        """An exited run: its logs to the artifacts and the history, its exit code."""
        out = engine.logs(api, attempt.id, stderr=False)
        err = engine.logs(api, attempt.id, stdout=False)
        self.pod.write_log(f"{main.run.name}.{attempt.index}.log", engine.logs(api, attempt.id))
        with self.lock:
            main.exited = True
            main.last_exit_code = int(state.get("ExitCode", -1)) if state else None
            main.keep_logs(out, err)

    def stop(self, api: Any, grace_s: float) -> None:
        """Stop restarting; SIGTERM each running main (SIGKILL after the grace period)."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for main in self.mains.values():
            attempt = main.attempt
            if attempt is None or main.exited:
                continue
            with engine.suppress_not_found():
                api.stop(attempt.id, timeout=max(1, round(grace_s)))
            self._collect(api, main, attempt, engine.inspect_state(api, attempt.id) or {})

    def container_ids(self) -> list[str]:
        """Every container this kubelet created (mains' current runs, then inits)."""
        ids = [m.attempt.id for m in self.mains.values() if m.attempt is not None]
        return ids + list(self.init_ids.values())
