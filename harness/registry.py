"""A local OCI registry: Debian's `docker-registry` on a free loopback port, temp storage.

It binds 127.0.0.1:0 and reports the port it got ("listening on 127.0.0.1:N"), so there is
no port race; `__enter__` waits for that line and for `GET /v2/` to answer 200, and cleans
up on a half start with the logs attached. Plain HTTP, so pushers pass `--insecure` and
workers need `GREENTIC_OCI_INSECURE_REGISTRIES`. Used by scenarios through the track backend.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path

import yaml

from harness import waits
from harness.closing import TearDownOnExit
from harness.errors import HarnessError
from harness.ports import LOOPBACK
from harness.process import RUN_ID_ENV, ManagedProcess

BINARY = "/usr/bin/docker-registry"
READY_DEADLINE_S = 10.0


class RegistryError(HarnessError):
    """Raised when the local OCI registry cannot be started."""


def config(storage: Path, *, host: str = LOOPBACK) -> dict[str, object]:
    """The registry's config: filesystem storage, loopback bind on port 0, no auth."""
    return {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": False}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": f"{host}:0", "secret": secrets.token_hex(16)},
    }


class Registry(TearDownOnExit):
    """A throw-away OCI registry.

    Example:
        with Registry(work / "registry", logs_dir=artifacts.dir, run_id=rid) as reg:
            ref = reg.ref("greentic/webchat-bot:v1")   # oci://127.0.0.1:PORT/greentic/…:v1
    """

    scheme = "oci"

    def __init__(
        self,
        work_dir: Path,
        *,
        logs_dir: Path,
        run_id: str = "",
        binary: str | None = None,
        detach: bool = False,
    ) -> None:
        self.work_dir = work_dir
        self.logs_dir = logs_dir
        self.run_id = run_id
        self.binary = binary or os.environ.get("GTC_DOCKER_REGISTRY", BINARY)
        self.detach = detach
        self.process: ManagedProcess | None = None
        self._authority: str | None = None

    def set_up(self) -> None:
        if shutil.which(self.binary) is None:
            raise RegistryError(
                f"the OCI registry binary `{self.binary}` is not installed"
                "\nHint: `sudo apt-get install docker-registry` (`make setup` does it as root)"
            )
        try:
            self._start()
        except BaseException as exc:
            logs = self.process.logs() if self.process is not None else ""
            if logs:
                exc.add_note(f"docker-registry logs:\n{waits.tail(logs, 2000)}")
            raise

    def _start(self) -> None:
        storage = self.work_dir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        cfg = self.work_dir / "config.yml"
        cfg.write_text(yaml.safe_dump(config(storage), sort_keys=True), encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), RUN_ID_ENV: self.run_id}
        self.process = ManagedProcess(
            [self.binary, "serve", str(cfg)],
            env=env,
            logs_dir=self.logs_dir,
            name="registry",
            detach=self.detach,
        ).start()
        match = self.process.wait_for(
            r"listening on (\S+:\d+)",
            READY_DEADLINE_S,
            stream="logs",
            hint="docker-registry did not report its address; read its log above",
        )
        self._authority = match.group(1)
        waits.until_http(
            f"http://{self._authority}/v2/",
            watch=self.process,
            timing=waits.Timing(timeout=READY_DEADLINE_S),
            hint="the registry bound its port but /v2/ does not answer; read its log above",
        ).status(200)

    def tear_down(self, exc: BaseException | None) -> None:
        if self.process is not None:
            self.process.stop()

    @property
    def authority(self) -> str:
        """`127.0.0.1:PORT` as seen from the host."""
        if self._authority is None:
            raise RuntimeError("the registry is not running (use it as a context manager)")
        return self._authority

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def pulls(self, repository_tag: str) -> int:
        """Blob GETs of `repository_tag`'s repository (the surface the pod tracks' registries
        share, so one pull check serves every track)."""
        return self.blob_pulls(repository_of(repository_tag))

    def blob_pulls(self, repository: str) -> int:
        """Successful blob GETs of `repository` seen in the access log (the worker's pulls)."""
        logs = self.process.logs() if self.process is not None else ""
        return len(
            re.findall(rf'"GET /v2/{re.escape(repository)}/blobs/\S+ HTTP/[\d.]+" 200', logs)
        )

    def ref(self, repository_tag: str) -> str:
        """`oci://<authority>/<repository:tag>` as seen from the host (where pushes run)."""
        return f"oci://{self.authority}/{repository_tag}"


def repository_of(repository_tag: str) -> str:
    """`greentic/bot:v1` (or `…@sha256:…`) → `greentic/bot`."""
    return repository_tag.split("@", 1)[0].rsplit(":", 1)[0]


def registry_pulls(log: str, authority: str, repository_tag: str) -> int:
    """Blob GETs of `repository_tag`'s repository addressed to `authority`, counted in the
    registry's logfmt lines (`http.request.host=… http.request.method=GET … /v2/<repo>/blobs/`)."""
    repository = repository_of(repository_tag)
    hosts = (f'http.request.host="{authority}"', f"http.request.host={authority} ")
    blobs = f"/v2/{repository}/blobs/"
    return sum(
        1
        for line in log.splitlines()
        if any(h in line for h in hosts) and "http.request.method=GET" in line and blobs in line
    )
