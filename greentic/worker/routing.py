"""Pick the deployment and revision of a request (reference worker §4.3, §4.4); pure.

Deployment: Host (port stripped, lowercased) in the route's hosts (empty = any), then the
longest path prefix on segment boundaries (`/api` matches `/api/x`, not `/apix`); ties go to
env order. Revision: weighted by `weight_bps`; with a session key, a hash bucket of the key,
so a user stays pinned while the weights stand, across processes, with no pin table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    """One active deployment's binding: hosts, path prefixes and its tenant/team."""

    deployment_id: str
    bundle_id: str
    tenant: str
    team: str
    hosts: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ("/",)


def normalize_prefix(prefix: str) -> str:
    """One leading `/`, no trailing `/` (except the root)."""
    body = prefix.strip().strip("/")
    return "/" + body if body else "/"


def normalize_hosts(hosts: Sequence[str]) -> tuple[str, ...]:
    """Trimmed, lowercased, blanks dropped."""
    return tuple(h.strip().lower() for h in hosts if h.strip())


def request_host(header: str | None) -> str | None:
    """The Host header without its port (IPv6 brackets handled), lowercased."""
    if not header:
        return None
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[1:end] if end > 0 else header
    host, sep, port = header.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host
    return header


def prefix_specificity(prefix: str, path: str) -> int:
    """0 when `prefix` does not match `path` on a segment boundary, else a rank (longer wins)."""
    if prefix == "/":
        return 1
    if path == prefix or path.startswith(prefix + "/"):
        return len(prefix) + 1
    return 0


def resolve(routes: Sequence[Route], host_header: str | None, path: str) -> Route | None:
    """The route bound to (host, path), or None."""
    host: str | None = None
    host_known = False  # parsed only when some route binds hosts
    best: Route | None = None
    best_rank = 0
    for route in routes:
        if route.hosts:
            if not host_known:
                host, host_known = request_host(host_header), True
            if host not in route.hosts:
                continue
        rank = max((prefix_specificity(p, path) for p in route.prefixes), default=0)
        if rank > best_rank:
            best, best_rank = route, rank
    return best


def resolve_worker(routes: Sequence[Route], tenant: str | None) -> Route | None:
    """/workers/invoke: the route of `tenant`, else the only route, else None."""
    for route in routes:
        if route.tenant == tenant:
            return route
    return routes[0] if len(routes) == 1 else None


def bucket(session_key: str, total: int) -> int:
    """A stable point in [0, total) for a session key."""
    digest = hashlib.sha256(session_key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % total


def pick(
    entries: Sequence[tuple[str, int]],
    *,
    session_key: str | None,
    rand_below: Callable[[int], int],
) -> str | None:
    """The revision id picked from `(revision_id, weight_bps)` entries, or None if none weigh."""
    if len(entries) == 1:  # the common case: one revision takes all traffic, nothing to draw
        revision_id, weight = entries[0]
        return revision_id if weight > 0 else None
    total = sum(w for _, w in entries if w > 0)
    if total <= 0:
        return None
    point = bucket(session_key, total) if session_key else rand_below(total)
    for revision_id, weight in entries:
        if weight <= 0:
            continue
        if point < weight:
            return revision_id
        point -= weight
    raise AssertionError("weighted walk fell off the end")  # unreachable: point < total
