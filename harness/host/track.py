"""The host track: the worker is a local `greentic-start` process started exactly as a pod.

Same argv (`start --env <id>`), same environment variables as the rendered pod spec, and a
private HOME whose `.greentic/environments/<id>/` holds only the authored environment.json
(what the `stage-env-store` init container copies from the ConfigMap). Distributor and
registry listen on loopback, so the worker pulls from 127.0.0.1. Selected by `--track host`.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness import tracks
from harness.distributor import Distributor
from harness.errors import HarnessError
from harness.kept import Kept
from harness.ports import LOOPBACK, free_port, preferred_port
from harness.process import RUN_ID_ENV, ManagedProcess
from harness.registry import Registry

if TYPE_CHECKING:
    from harness.tracks import BundleSource, RunScope

DEMO_PORT = 8080  # the port seeds/001's curl lines use; taken only when free
DEMO_PORT_ENV = "GTC_DEMO_PORT"  # override for kept workers; 0 = any free port
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)
DEV_STORE = ".greentic/dev/.dev.secrets.env"  # in the authored env dir and the pod's
URL_RE = re.compile(r"http://(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):(\d+)")


def greentic_start_binary() -> str:
    """The venv's `greentic-start` next to this interpreter (the runtime image's ENTRYPOINT)."""
    candidate = Path(sys.executable).with_name("greentic-start")
    return str(candidate) if candidate.exists() else "greentic-start"


def stage_env_store(authored: Path, pod_env_dir: Path) -> None:
    """Deliver environment.json as the ConfigMap does; drop runtime-config.json (a pod never
    receives it). Whatever an earlier boot of this pod materialized stays, like an emptyDir."""
    source = authored / "environment.json"
    if not source.is_file():
        raise HarnessError(
            f"no authored environment.json at {source}"
            "\nHint: author the env first (`gtc op env create …`)"
        )
    pod_env_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, pod_env_dir / "environment.json")
    (pod_env_dir / "runtime-config.json").unlink(missing_ok=True)
    dev_store = authored / DEV_STORE  # what the `stage-dev-secrets` init container copies
    if dev_store.is_file():
        (pod_env_dir / DEV_STORE).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(dev_store, pod_env_dir / DEV_STORE)


def demo_port() -> int:
    """The port a kept (demo) worker asks for: $GTC_DEMO_PORT, else 8080 when free."""
    wanted = int(os.environ.get(DEMO_PORT_ENV) or DEMO_PORT)
    return preferred_port(wanted) if wanted else free_port()


def redacted(env: dict[str, str]) -> dict[str, str]:
    """The environment with secret-looking values masked, for the artifacts."""
    return {k: "***" if SECRET_NAME.search(k) else v for k, v in env.items()}


class HostWorker:
    """A `greentic-start` process on this machine (implements `RunningWorker`)."""

    def __init__(self, process: ManagedProcess, *, env_dir: Path, listen: str) -> None:
        self.process = process
        self.env_dir = env_dir
        self._base_url = f"http://{listen}"

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_code(self) -> int | None:
        return self.process.exit_code()

    def stdout(self) -> str:
        return self.process.stdout()

    def stderr(self) -> str:
        return self.process.stderr()

    def logs(self) -> str:
        return self.process.logs()

    def wait_banner(self, regex: str, deadline_s: float) -> re.Match[str]:
        match = self.process.wait_for(
            regex,
            deadline_s,
            hint="the worker is up but never printed that banner; read its stdout/stderr above",
        )
        line_end = match.string.find("\n", match.end())
        line = match.string[match.start() : None if line_end < 0 else line_end]
        url = URL_RE.search(line)
        if url is not None:  # the worker may have moved to the next free port
            host = LOOPBACK if url.group(1) in ("0.0.0.0", "[::]") else url.group(1)
            self._base_url = f"http://{host}:{url.group(2)}"
        return match

    def wait_exited(self, deadline_s: float) -> int:
        return self.process.wait_exited(deadline_s)

    def env_file(self, rel: str) -> bytes | None:
        try:
            return (self.env_dir / rel).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def stop(self) -> int | None:
        return self.process.stop()


class HostBackend:
    """Workers as local processes; bundles from loopback servers. No pods: no readiness probe,
    no restarts, one store per `pod` name that the next boot of that name reuses."""

    track = "host"
    capabilities: frozenset[tracks.Capability] = tracks.HOST_CAPABILITIES

    def serve_bundles(self, scope: RunScope, directory: Path) -> Distributor:
        log = scope.artifacts.path("distributor.log")
        return scope.stack.enter_context(Distributor(directory, log_path=log))

    def registry(self, scope: RunScope) -> Registry:
        registry = Registry(
            scope.work_dir / "registry", logs_dir=scope.artifacts.dir, run_id=scope.run_id
        )
        return scope.stack.enter_context(registry)

    def authority_for(self, source: BundleSource) -> str:
        return source.authority

    def bundle_uri_for(self, source: BundleSource, name: str) -> str:
        return tracks.bundle_uri(source, name)

    def start(
        self,
        scope: RunScope,
        env_id: str,
        *,
        pod: str = "worker",
        env: dict[str, str] | None = None,
        expect_exit: bool = False,
        args: Sequence[str] = (),
    ) -> HostWorker:
        """`args`: extra `start` flags (`--cloudflared on …`), which a pod gets from render."""
        home = scope.work_dir / "pods" / pod / "home"
        env_dir = home / ".greentic" / "environments" / env_id
        stage_env_store(scope.store_root / env_id, env_dir)
        port = demo_port() if scope.keep else free_port()
        listen = f"{LOOPBACK}:{port}"
        child_env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(home),
            "GREENTIC_ENV_ID": env_id,
            "GREENTIC_GATEWAY_LISTEN_ADDR": listen,
            RUN_ID_ENV: scope.run_id,
            **(env or {}),
        }
        boot = 1 + len(list(scope.artifacts.dir.glob(f"{pod}-boot*.stdout.log")))
        process = ManagedProcess(
            [greentic_start_binary(), "start", "--env", env_id, *args],
            env=child_env,
            logs_dir=scope.artifacts.dir,
            name=f"{pod}-boot{boot}",
            cwd=home,
            detach=scope.keep,
        )
        scope.artifacts.write_json(
            f"{pod}-boot{boot}.launch.json",
            {"argv": process.argv, "env": redacted(child_env), "expect_exit": expect_exit},
        )
        worker = HostWorker(process.start(), env_dir=env_dir, listen=listen)
        if scope.keep and not expect_exit:
            scope.keep_running(Kept(what=f"{pod} ({env_id})", pid=worker.pid, run_id=scope.run_id))
        else:
            scope.stack.callback(worker.stop)
        return worker
