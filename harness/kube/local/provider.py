"""The `local` cluster-track provider: the real single-node cluster `harness.kube.local.cluster`
runs on this machine, adopted when running, else started (and then stopped unless kept).

It is an `Existing` provider whose context and kubeconfig come from the running cluster's state
file, so kubectl, apply, per-run namespaces (labelled with the run id, deleted at tear-down),
the NetworkPolicy probe and the kubectl evidence are the same code. What differs: images are
imported into the node's containerd (`images.import_docker_image`, once per tag per process),
and the evidence also holds the cluster's process logs. xdist workers never start it
(`may_start=False`): the pytest controller or `demo.py cluster-up --provider local` does, and
every worker adopts that one. Built by `harness.kube.providers.provider_for`.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.kube.commands import ClusterUnreachable, ProviderError
from harness.kube.existing import Existing
from harness.kube.local import cluster as local_cluster

UP_VERB = "python demo.py cluster-up --provider local"
DOWN_VERB = "python demo.py cluster-down --provider local"
LOGS_DIR = "local-logs"  # where collect_artifacts copies the cluster's process logs

_IMPORTED: dict[tuple[int, str], str] = {}  # (supervisor pid, tag) → ref: once per process


def not_running(directory: Path | None) -> str:
    """The one line for "no local cluster here", naming the verb that starts one."""
    where = directory or local_cluster.default_dir()
    return f"no local cluster is running in {where} — start it with `{UP_VERB}`"


def first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def did_not_start(exc: BaseException) -> str:
    """The one line for a failed start: its first line and where the whole output is."""
    return (
        f"the local cluster did not start: {first_line(exc)} — next: `{UP_VERB}` shows its output"
    )


def leftovers_line(left: Sequence[str]) -> str:
    """The one line for what `stop` could not undo."""
    what = ", ".join(left)
    return f"the local cluster left on the host: {what} — next: remove them, then `{DOWN_VERB}`"


def copy_logs(logs: Path, dest: Path) -> list[Path]:
    """Every file under `logs` copied to `dest` (never raises: evidence must not mask a failure)."""
    copied: list[Path] = []
    if not logs.is_dir():
        return copied
    for source in sorted(p for p in logs.rglob("*") if p.is_file()):
        target = dest / source.relative_to(logs)
        with contextlib.suppress(OSError):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            copied.append(target)
    return copied


@dataclass
class Local(Existing):
    """The local cluster: adopted (kept) when running, else started and stopped unless `keep`."""

    kube_context: str = local_cluster.CONTEXT
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    directory: Path | None = None  # None: local_cluster.default_dir()
    may_start: bool = True  # False in xdist workers: they adopt the controller's cluster
    out: Callable[[str], None] = print  # start/stop progress
    keep: bool = False  # set True when adopted: someone else started it
    provider: str = "local"
    started: bool = field(default=False, init=False)
    cluster: local_cluster.LocalCluster | None = field(default=None, init=False)

    def set_up(self) -> None:
        """Adopt the running cluster, or start one (when allowed); then it must answer."""
        found = local_cluster.running(self.directory)
        if found is None:
            if not self.may_start:
                raise ClusterUnreachable(not_running(self.directory))
            try:
                found = local_cluster.start(self.directory, out=self.out)
            except HarnessError as exc:
                raise ProviderError(did_not_start(exc)) from exc
            self.started = True
        else:
            self.keep = True
        self.cluster = found
        self.kube_context, self.kubeconfig = found.context, found.kubeconfig
        self.check_reachable()

    def tear_down(self, exc: BaseException | None) -> None:
        """`Existing`'s (evidence on failure, this run's namespaces), then `release`."""
        if self.cluster is not None:
            super().tear_down(exc)
        left = self.release()
        if left and exc is not None:
            exc.add_note(leftovers_line(left))
        elif left:
            raise ProviderError(leftovers_line(left))

    def release(self) -> list[str]:
        """Stop the cluster if this provider started it and does not keep it (once); what
        `stop` left on the host."""
        if not self.started or self.keep:
            return []
        self.started = False
        self.cluster = None
        return local_cluster.stop(self.directory, out=self.out)

    def image_ref(self, tag: str) -> str:
        """Imported into the node's containerd once per tag per process; the ref pods name."""
        found = self._running()
        key = (found.pid, tag)
        if key not in _IMPORTED:
            from harness.kube.local import images

            _IMPORTED[key] = images.import_docker_image(
                found.containerd_address, tag, runner=self.runner
            )
        return _IMPORTED[key]

    def collect_artifacts(
        self, dest: Path, namespaces: Sequence[str] | None = None, *, node_logs: bool = True
    ) -> list[Path]:
        """kubectl evidence, plus (`node_logs`) every cluster process's log under `local-logs/`."""
        written = super().collect_artifacts(dest, namespaces, node_logs=node_logs)
        if node_logs and self.cluster is not None:
            written += copy_logs(self.cluster.logs, dest / LOGS_DIR)
        return written

    def _running(self) -> local_cluster.LocalCluster:
        if self.cluster is None:
            raise ProviderError("the local provider is not set up: use `with provider:` first")
        return self.cluster
