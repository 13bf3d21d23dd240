"""Pure parsing of bundle references: scheme, OCI reference, insecure-registry list, names.

No I/O and no httpx: the dispatcher, the OCI puller and pusher, and unit tests share these.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from greentic.errors import FetchError, InvalidArgument

INSECURE_VAR = "GREENTIC_OCI_INSECURE_REGISTRIES"
REPO_RE = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
AUTHORITY_RE = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?$")


def scheme_of(uri: str) -> str:
    """`file`, `http`, `https` or `oci`; a FetchError for anything else."""
    lowered = uri.lower()
    for scheme in ("file", "http", "https", "oci"):
        if lowered.startswith(f"{scheme}://"):
            if scheme != "oci":
                _check_url(uri)
            return scheme
    if "://" not in uri:
        return "file"
    raise FetchError(
        f"unsupported bundle reference {redact(uri)}; expected file://, http(s)://, or oci://"
    )


def _check_url(uri: str) -> None:
    """A FetchError (not a bare ValueError) for a URL the parser rejects, e.g. `https://[::1`."""
    try:
        urlsplit(uri)
    except ValueError as exc:
        raise FetchError(
            f"bundle reference {redact(uri)} is not a valid URL ({exc})",
            hint="fix the revision's bundle_source_uri (e.g. https://host[:port]/path.gtbundle)",
        ) from None


USERINFO_RE = re.compile(r"(://)[^/?#]*@")


def _mask_query(query: str) -> str:
    """Query values hidden, names kept: pre-signed URLs carry their credential there."""
    return "&".join(
        f"{pair.split('=', 1)[0]}=***" if "=" in pair else pair for pair in query.split("&")
    )


def redact(uri: str) -> str:
    """`uri` without any `user:password@` or query values, so references can be logged and
    shown (`?token=…`, `X-Amz-Signature=…` are credentials as much as a password is)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return USERINFO_RE.sub(r"\1***@", uri.split("?", 1)[0], count=1)
    if "@" not in parts.netloc and not parts.query:
        return uri
    netloc = f"***@{parts.netloc.rsplit('@', 1)[1]}" if "@" in parts.netloc else parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, _mask_query(parts.query), parts.fragment))


def dest_name(uri: str, last_segment: str) -> str:
    """A collision-free file name: 12 hex of sha256(uri) + the sanitized last path segment."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "-", last_segment).strip(".-") or "bundle.gtbundle"
    return f"{hashlib.sha256(uri.encode()).hexdigest()[:12]}-{clean}"


@dataclass(frozen=True)
class OciRef:
    """`oci://registry/repository[:tag|@digest]`; tag defaults to `latest` without a digest."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """What goes after `/manifests/`: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        suffix = f"@{self.digest}" if self.digest else f":{self.tag or 'latest'}"
        return f"oci://{self.registry}/{self.repository}{suffix}"


def parse_oci(uri: str) -> OciRef:
    """Parse an `oci://` reference; a FetchError names what is malformed."""
    rest = uri[len("oci://") :] if uri.lower().startswith("oci://") else uri
    registry, _, path = rest.partition("/")
    if not registry or not path or not AUTHORITY_RE.match(registry):
        raise FetchError(
            f"OCI reference `{uri}` must look like oci://host[:port]/repo[:tag|@sha256:…]"
        )
    digest: str | None = None
    if "@" in path:
        path, digest = path.split("@", 1)
        if not DIGEST_RE.match(digest):
            raise FetchError(f"OCI reference `{uri}`: digest must be sha256:<64 hex>")
    tag: str | None = None
    head, _, last = path.rpartition("/")
    if ":" in last:
        last, tag = last.split(":", 1)
        if not TAG_RE.match(tag):
            raise FetchError(f"OCI reference `{uri}`: `{tag}` is not a valid tag")
        path = f"{head}/{last}" if head else last
    if not REPO_RE.match(path):
        raise FetchError(f"OCI reference `{uri}`: `{path}` is not a valid repository name")
    if digest is None and tag is None:
        tag = "latest"
    return OciRef(registry=registry, repository=path, tag=tag, digest=digest)


def check_insecure_entry(entry: str) -> str:
    """A bare `host[:port]` entry of the insecure list, or an InvalidArgument saying why not."""
    expected = "expected a bare `host[:port]` such as `registry.local:5000`"
    if "://" in entry:
        raise InvalidArgument(
            f"{INSECURE_VAR}: insecure registry entry `{entry}` carries a URL scheme; {expected}"
        )
    if "/" in entry:
        raise InvalidArgument(
            f"{INSECURE_VAR}: insecure registry entry `{entry}` carries a path; {expected}"
        )
    if not AUTHORITY_RE.match(entry):
        raise InvalidArgument(
            f"{INSECURE_VAR}: insecure registry entry `{entry}` is not a bare host; {expected}"
        )
    return entry


def parse_insecure(raw: str | None) -> frozenset[str]:
    """Split the comma list (trimmed, blanks dropped) and validate every entry."""
    entries = [e.strip() for e in (raw or "").split(",")]
    return frozenset(check_insecure_entry(e) for e in entries if e)


REALM_HOSTS_VAR = "GREENTIC_OCI_TOKEN_REALM_HOSTS"


def parse_realm_hosts(raw: str | None) -> frozenset[str]:
    """$GREENTIC_OCI_TOKEN_REALM_HOSTS: `host[:port]` entries (lowercased) trusted with creds."""
    hosts = []
    for entry in (e.strip() for e in (raw or "").split(",")):
        if not entry:
            continue
        if "://" in entry or "/" in entry or not AUTHORITY_RE.match(entry):
            raise InvalidArgument(
                f"{REALM_HOSTS_VAR}: token realm entry `{entry}` is not a bare `host[:port]`; "
                f"list hosts like {REALM_HOSTS_VAR}=auth.example.com,login.example.com:8443"
            )
        hosts.append(entry.lower())
    return frozenset(hosts)


def _host_and_authority(url: str) -> tuple[str, str]:
    """(host, host[:port]) of a URL, lowercased; empty strings if it has no host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "", ""
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host  # IPv6, spelled as in `host[:port]` entries
    return host, f"{host}:{port}" if port is not None else host


def realm_gets_credentials(realm: str, registry: str, allowed: frozenset[str]) -> bool:
    """Basic credentials go to a token realm only over HTTPS, and only on the registry's own
    host (any port) or a host the operator listed in $GREENTIC_OCI_TOKEN_REALM_HOSTS
    (`host` for any port, `host:port` for exactly that one). Pure."""
    if urlsplit(realm).scheme.lower() != "https":
        return False
    host, authority = _host_and_authority(realm)
    own, _ = _host_and_authority(f"https://{registry}")
    return bool(host) and (host == own or host in allowed or authority in allowed)
