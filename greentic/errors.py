"""One error tree for everything a user can cause; the CLI envelopes it in one place.

    GreenticError(message, *, hint=None)     kind = class attribute (SPEC §4)
    ├── StoreError            "store"
    ├── SpecError             "spec"
    ├── IoError               "io"
    ├── AnswersParseError     "answers-parse"
    ├── InvalidArgument       "invalid-argument"
    ├── NotFound              "not-found"
    ├── Conflict              "conflict"
    │   └── ApplyConflict     (carries the Kubernetes Status message)
    ├── FetchError            "fetch"
    │   └── DigestMismatch
    ├── TrustRootError        "trust-root"
    └── NotYetImplemented     "not-yet-implemented"

Developer mistakes stay ValueError/RuntimeError and are never shown as user errors.
"""

from __future__ import annotations

from typing import ClassVar

KINDS = (
    "store",
    "spec",
    "io",
    "answers-parse",
    "invalid-argument",
    "not-found",
    "conflict",
    "fetch",
    "trust-root",
    "not-yet-implemented",
)


class GreenticError(Exception):
    """Base of every user-facing failure; `kind` selects the JSON envelope's error kind."""

    kind: ClassVar[str] = "store"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def envelope(self) -> dict[str, str]:
        """The `error` object of the SPEC §4 failure line."""
        return {"kind": self.kind, "message": self.message}


class StoreError(GreenticError):
    """Raised when the file-system store cannot be read or written consistently."""

    kind = "store"


class SpecError(GreenticError):
    """Raised when a document violates the data model (schema, ids, weights, links)."""

    kind = "spec"


class IoError(GreenticError):
    """Raised when a file the user named cannot be read or written."""

    kind = "io"


class AnswersParseError(GreenticError):
    """Raised when an answers/manifest file is not valid JSON/YAML or has unknown keys."""

    kind = "answers-parse"


class InvalidArgument(GreenticError):
    """Raised when a command-line argument or payload field is malformed."""

    kind = "invalid-argument"


class NotFound(GreenticError):
    """Raised when a named environment, deployment, revision or file does not exist."""

    kind = "not-found"


class Conflict(GreenticError):
    """Raised when the request contradicts current state (lifecycle rules, missing extras)."""

    kind = "conflict"


class ApplyConflict(Conflict):
    """Raised when the Kubernetes API refuses an apply; carries the Status message."""

    def __init__(self, message: str, *, status: int = 409, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class FetchError(GreenticError):
    """Raised when a bundle cannot be fetched from its source."""

    kind = "fetch"


class DigestMismatch(FetchError):
    """Raised when pulled bytes do not match the revision's pinned bundle_digest."""


class TrustRootError(GreenticError):
    """Raised when the trust root or operator key is missing, unreadable or does not verify."""

    kind = "trust-root"


class NotYetImplemented(GreenticError):
    """Raised when a documented path is not supported yet (e.g. non dev-store secrets)."""

    kind = "not-yet-implemented"
