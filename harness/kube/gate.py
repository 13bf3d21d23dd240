"""The cluster track's gate for the pytest plugin: which tools the selected cluster needs, its
one-line failure when it cannot be used, and the local cluster's life in one pytest session.

Plain values in, plain values out (no pytest here), so the rules are unit-tested directly:
- `cluster_tools`: kubectl always; kind only for a kind cluster (not `--kube-context`, not
  `--provider local`).
- `cluster_failure`: `--provider local` with no local cluster running, or an unreachable
  `--kube-context` → the one line; else "".
- `start_local` / `stop_local`: the controller's (never an xdist worker's) start when a
  cluster test is selected and nothing runs, and the stop of what it started.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass

from harness.errors import HarnessError
from harness.kube.providers import ClusterOptions, provider_name


def cluster_tools(kube_context: str | None = None, provider: str | None = None) -> list[str]:
    """What the cluster track needs on PATH for the selected cluster."""
    chosen = provider_name(ClusterOptions(provider=provider, kube_context=kube_context))
    return ["kind", "kubectl"] if chosen == "kind" else ["kubectl"]


def tools_available(kube_context: str | None = None, provider: str | None = None) -> bool:
    return all(shutil.which(tool) is not None for tool in cluster_tools(kube_context, provider))


def wants_cluster(markexpr: str, track: str) -> bool:
    """Does a session with `-m markexpr --track track` select cluster tests?"""
    return ("kind" in markexpr and "not kind" not in markexpr) or track == "kind"


def cluster_failure(kube_context: str | None, provider: str | None) -> str:
    """The selected cluster's one-line failure, else "" (seconds at most)."""
    if provider == "local":
        from harness.kube.local import cluster as local_cluster
        from harness.kube.local.provider import not_running

        return "" if local_cluster.running() is not None else not_running(None)
    if not kube_context:
        return ""
    from harness.kube.commands import ClusterUnreachable, SubprocessRunner
    from harness.kube.kind import check_reachable

    try:
        check_reachable(SubprocessRunner(), kube_context, None)
    except ClusterUnreachable as exc:
        return str(exc)
    return ""


@dataclass(frozen=True)
class LocalStart:
    """What the controller's `start_local` did: started it (stop it at the end), or why not."""

    started: bool = False
    failure: str = ""  # the one line every cluster test fails with


def start_local(out: Callable[[str], None]) -> LocalStart:
    """Start the local cluster unless one runs (then it is someone else's: adopted, never
    stopped by this session)."""
    from harness.kube.local import cluster as local_cluster
    from harness.kube.local.provider import did_not_start

    if local_cluster.running() is not None:
        return LocalStart()
    try:
        local_cluster.start(out=out)
    except HarnessError as exc:
        return LocalStart(failure=did_not_start(exc))
    return LocalStart(started=True)


def stop_local(out: Callable[[str], None]) -> list[str]:
    """Stop the local cluster this session started; say what it left on the host."""
    from harness.kube.local import cluster as local_cluster
    from harness.kube.local.provider import leftovers_line

    left = local_cluster.stop(out=out)
    if left:
        out(leftovers_line(left))
    return left
