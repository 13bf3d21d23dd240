"""Failure types of the Kubernetes path, each a subclass of the nearest SPEC §4 kind.

Raised by answers (bad binding answers), inputs (missing binding), cluster.py (the one place
that translates the kubernetes client's exceptions) and rollout (deadline passed).

    Conflict
    ├── ApplyConflict       (greentic.errors; the API refused an apply, 409)
    ├── InvalidAnswers      the deployer binding's answers break a rule
    ├── ClusterError        any other Kubernetes API failure (keeps the Status message)
    │   └── ClusterUnreachable
    ├── KubeClientMissing   the `kubernetes` package is not installed
    └── RolloutTimeout      a Deployment did not become ready before the deadline
"""

from __future__ import annotations

from greentic.errors import ApplyConflict, Conflict, NotFound

__all__ = [
    "ApplyConflict",
    "ClusterError",
    "ClusterUnreachable",
    "InvalidAnswers",
    "KubeClientMissing",
    "NotFound",
    "RolloutTimeout",
]

MISSING_CLIENT = "this install lacks the Kubernetes client (install greentic[k8s])"


class InvalidAnswers(Conflict):
    """Raised when the deployer answers break a rule; the message is upstream's."""

    def __init__(self, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"invalid binding answers: {reason}", hint=hint)
        self.reason = reason


class ClusterError(Conflict):
    """Raised when the Kubernetes API answers with an error other than 404/409."""

    def __init__(self, message: str, *, status: int = 0, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class ClusterUnreachable(ClusterError):
    """Raised when no connection to the API server can be made (names context and server)."""


class KubeClientMissing(Conflict):
    """Raised when reconcile needs the `kubernetes` package and it cannot be imported."""

    def __init__(self) -> None:
        super().__init__(MISSING_CLIENT, hint="pip install 'greentic[k8s]'")


class RolloutTimeout(Conflict):
    """Raised when `--wait` passes its deadline; names the Deployment, pod and last event."""
