"""Secret paths and URIs: `<tenant>/<team|_>/<category>/<name>` ↔ `secret://<env>/<path>`.

Pure validation (reference §4.3): four non-empty segments, the team store-canonical (`_` for
the default team), the name lowercase snake case. Used by secrets put, env apply, messaging.
"""

from __future__ import annotations

import re

from greentic.errors import InvalidArgument

SCHEME = "secret://"
NAME_RE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")
SEGMENT_RE = re.compile(r"^[A-Za-z0-9._-]+$")


def validate_secret_path(path: str) -> str:
    """The canonical path (leading `/` trimmed) or an InvalidArgument naming the bad segment."""
    trimmed = path[1:] if path.startswith("/") else path
    parts = trimmed.split("/")
    if len(parts) != 4 or any(not p for p in parts):
        raise InvalidArgument(
            f"secret path `{path}` must have exactly 4 non-empty segments "
            "`<tenant>/<team>/<category>/<name>`",
            hint="e.g. tenant-default/_/messaging-telegram/telegram_bot_token",
        )
    tenant, team, category, name = parts
    for label, seg in (("tenant", tenant), ("team", team), ("category", category)):
        if seg in (".", "..") or not SEGMENT_RE.match(seg):
            raise InvalidArgument(
                f"secret path `{path}`: {label} segment `{seg}` may only contain letters, "
                "digits, `.`, `_` and `-`"
            )
    if team == "default":
        raise InvalidArgument(
            f"secret path `{path}`: team segment `default` is not store-canonical: the runtime "
            "reads the default team as `_`",
            hint=f"use {tenant}/_/{category}/{name}",
        )
    if not NAME_RE.match(name):
        raise InvalidArgument(
            f"secret path `{path}`: name `{name}` must be lowercase a-z/0-9 with single `_` "
            "separators (no leading or trailing `_`)"
        )
    return trimmed


def secret_uri(env_id: str, path: str) -> str:
    """`secret://<env>/<path>` — how the worker and environment.json name a secret."""
    return f"{SCHEME}{env_id}/{path.lstrip('/')}"


def canonical_uri(uri: str) -> str:
    """Accept upstream's dev-store key spelling `secrets://…` as `secret://…`."""
    if uri.startswith("secrets://"):
        return SCHEME + uri.removeprefix("secrets://")
    if not uri.startswith(SCHEME):
        raise InvalidArgument(f"secret uri `{uri}` must start with {SCHEME}")
    return uri
