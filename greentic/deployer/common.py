"""Pieces every verb payload shares: the env id field (default `local`) and small checks.

Verb payload models subclass `EnvPayload`; `normalize_public_base_url` is upstream's
origin-only rule used by env create/init/apply. Called by the deployer verb modules.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import ValidationError, field_validator

from greentic.spec.base import Model, check_env_id
from greentic.spec.validation import describe

LOCAL = "local"


class EnvPayload(Model):
    """A verb payload addressed to one environment (`environment_id`, default `local`)."""

    environment_id: str = LOCAL

    @field_validator("environment_id")
    @classmethod
    def _env_id(cls, v: str) -> str:
        return check_env_id(v)


def normalize_public_base_url(url: str) -> str:
    """An http(s) origin with a host and no path/query/fragment/userinfo; trailing `/` trimmed."""
    if any(c.isspace() for c in url):
        raise ValueError(f"public_base_url `{url}` must not contain whitespace")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"public_base_url `{url}` must be an http(s) URL with a host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"public_base_url `{url}` must be an origin (no userinfo/query/fragment)")
    if parts.path not in ("", "/"):
        raise ValueError(f"public_base_url `{url}` must be an origin (no path)")
    return url.rstrip("/")


def check_listen_addr(addr: str) -> str:
    """`host:port` (IPv6 in brackets) with a port in 0..65535 — a SocketAddr."""
    import ipaddress

    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"listen_addr `{addr}` must be `<ip>:<port>`")
    try:
        ipaddress.ip_address(host[1:-1] if host.startswith("[") else host)
    except ValueError:
        raise ValueError(f"listen_addr `{addr}` must be `<ip>:<port>`") from None
    return addr


def validation_message(exc: ValidationError) -> str:
    """First pydantic error as one line `packs[0].slot: message` (see greentic.spec.validation)."""
    return describe(exc)
