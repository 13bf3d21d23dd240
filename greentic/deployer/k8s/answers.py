"""Deployer answers `greentic.deployer.k8s@1.0.0`: parse a flat JSON object into K8sAnswers.

Upstream's keys and messages (SPEC §6.1, reference/upstream-deployer.md §5.12) plus our
opt-in keys, all off by default: `image_pull_policy` (recommended: `IfNotPresent` for a
digest-pinned image, `Always` for a tag), `image_pull_secrets` and `ingress{host, class?,
tls_secret?}`. Called by inputs.load (from the binding's answers_ref) and by tests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from greentic.deployer.k8s import naming
from greentic.deployer.k8s.errors import InvalidAnswers

DEFAULT_RUNTIME_IMAGE = "greentic-runtime:local"
DEFAULT_ROUTER_REPLICAS = 2
U32_MAX = 2**32 - 1
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
KEYS = (
    "kubeconfig_context",
    "namespace",
    "runtime_image",
    "router_replicas",
    "tunnel",
    "oci_insecure_registries",
    "image_pull_policy",
    "image_pull_secrets",
    "ingress",
)
INGRESS_KEYS = ("host", "class", "tls_secret")
_IMAGE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_/:@")

Tunnel = Literal["off", "cloudflared"]


@dataclass(frozen=True)
class Ingress:
    """One Ingress to the router Service: `host`, optional class and TLS Secret."""

    host: str
    class_name: str | None = None
    tls_secret: str | None = None


@dataclass(frozen=True)
class K8sAnswers:
    """Validated deployer answers. Example: `answers.parse({"tunnel": "cloudflared"})`."""

    kubeconfig_context: str | None = None
    namespace: str | None = None
    runtime_image: str = DEFAULT_RUNTIME_IMAGE
    router_replicas: int = DEFAULT_ROUTER_REPLICAS
    tunnel: Tunnel = "off"
    oci_insecure_registries: tuple[str, ...] = ()
    image_pull_policy: str | None = None
    image_pull_secrets: tuple[str, ...] = ()
    ingress: Ingress | None = None

    def namespace_for(self, env_id: str) -> str:
        """The namespace answer, else the one derived from the env id."""
        return self.namespace or naming.namespace_for_env(env_id)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _string(value: Any) -> str | None:
    """Upstream's string keys: null/"" mean default; other JSON is stringified."""
    if value is None:
        return None
    text = value if isinstance(value, str) else _json(value)
    return text or None


def _replicas(value: Any) -> int:
    if value is None or value == "":
        return DEFAULT_ROUTER_REPLICAS
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidAnswers(f"router_replicas must be a string or number, got {_json(value)}")
    text = value if isinstance(value, str) else _json(value)
    digits = text[1:] if text.startswith("+") else text
    if not digits.isascii() or not digits.isdigit():
        raise InvalidAnswers(
            f"router_replicas `{text}` is not a valid u32: invalid digit found in string"
        )
    count = int(digits)
    if count > U32_MAX:
        raise InvalidAnswers(
            f"router_replicas `{text}` is not a valid u32: number too large to fit in target type"
        )
    if count < 2:
        raise InvalidAnswers(f"router_replicas must be >= 2 (HA requirement), got {count}")
    return count


def _tunnel(value: Any) -> Tunnel:
    text = _string(value)
    if text is None or text in ("off", "none"):
        return "off"
    if text == "cloudflared":
        return "cloudflared"
    raise InvalidAnswers(f"tunnel `{text}` is not valid (expected `cloudflared` or `off`)")


def _string_list(key: str, value: Any) -> tuple[str, ...]:
    """A comma-separated string or an array of strings; entries trimmed, blanks dropped."""
    if value is None:
        return ()
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, str):
                raise InvalidAnswers(f"{key} entries must be strings, got {_json(item)}")
        items = value
    else:
        raise InvalidAnswers(
            f"{key} must be a comma-separated string or array of strings, got {_json(value)}"
        )
    return tuple(s.strip() for s in items if s.strip())


def _namespace(value: Any) -> str | None:
    text = _string(value)
    if text is not None and not naming.is_dns1123_label(text):
        raise InvalidAnswers(f"namespace `{text}` is not a valid RFC 1123 label")
    return text


def _image(value: Any) -> str:
    text = _string(value)
    if text is None:
        return DEFAULT_RUNTIME_IMAGE
    if not set(text) <= _IMAGE_CHARS:
        raise InvalidAnswers(f"runtime_image `{text}` contains invalid characters")
    return text


def _pull_policy(value: Any) -> str | None:
    text = _string(value)
    if text is not None and text not in PULL_POLICIES:
        raise InvalidAnswers(
            f"image_pull_policy `{text}` is not valid (expected `Always`, `IfNotPresent` or "
            "`Never`)"
        )
    return text


def _pull_secrets(value: Any) -> tuple[str, ...]:
    names = _string_list("image_pull_secrets", value)
    for name in names:
        if not naming.is_dns1123_subdomain(name):
            raise InvalidAnswers(
                f"image_pull_secrets entry `{name}` is not a valid Secret name (RFC 1123 subdomain)"
            )
    return names


def _ingress(value: Any) -> Ingress | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidAnswers(
            f"ingress must be an object with `host` (and optional `class`, `tls_secret`), "
            f"got {_json(value)}"
        )
    for key in sorted(value):
        if key not in INGRESS_KEYS:
            raise InvalidAnswers(f"unknown answer key `ingress.{key}`")
    host = _string(value.get("host"))
    if host is None:
        raise InvalidAnswers("ingress needs a `host` (the public DNS name of the router)")
    bare = host[2:] if host.startswith("*.") else host
    if not naming.is_dns1123_subdomain(bare):
        raise InvalidAnswers(f"ingress host `{host}` is not a valid DNS name")
    class_name = _string(value.get("class"))
    tls_secret = _string(value.get("tls_secret"))
    for key, name in (("class", class_name), ("tls_secret", tls_secret)):
        if name is not None and not naming.is_dns1123_subdomain(name):
            raise InvalidAnswers(f"ingress {key} `{name}` is not a valid RFC 1123 subdomain")
    return Ingress(host=host, class_name=class_name, tls_secret=tls_secret)


def parse(doc: Any) -> K8sAnswers:
    """Validate a decoded answers document; unknown keys are rejected first, by name."""
    if doc is None:
        return K8sAnswers()
    if not isinstance(doc, Mapping):
        raise InvalidAnswers("answers must be a JSON object")
    for key in sorted(doc):
        if key not in KEYS:
            raise InvalidAnswers(f"unknown answer key `{key}`")
    return K8sAnswers(
        kubeconfig_context=_string(doc.get("kubeconfig_context")),
        namespace=_namespace(doc.get("namespace")),
        runtime_image=_image(doc.get("runtime_image")),
        router_replicas=_replicas(doc.get("router_replicas")),
        tunnel=_tunnel(doc.get("tunnel")),
        oci_insecure_registries=_string_list(
            "oci_insecure_registries", doc.get("oci_insecure_registries")
        ),
        image_pull_policy=_pull_policy(doc.get("image_pull_policy")),
        image_pull_secrets=_pull_secrets(doc.get("image_pull_secrets")),
        ingress=_ingress(doc.get("ingress")),
    )
