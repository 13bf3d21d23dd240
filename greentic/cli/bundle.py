"""`gtc bundle build|inspect|push`: artifact tooling for .gtbundle files (not an `op` verb).

Each command prints one JSON result on stdout; a failure is the error boundary's one JSON line
on stderr (noun `bundle`, op the verb) and exit 1. Registered lazily by the root `gtc` group.
`emit` and the key loaders are shared with `gtc pack` (greentic/cli/pack.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from greentic.cli.boundary import Boundary, SafePath
from greentic.errors import InvalidArgument, IoError, NotFound, TrustRootError

CONTEXT = {"help_option_names": ["-h", "--help"]}


def emit(result: dict[str, Any]) -> None:
    """Print one JSON result line on stdout."""
    click.echo(json.dumps(result, separators=(",", ":"), sort_keys=True))


def read_file(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise IoError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def load_signing_key(path: Path) -> Any:
    """An Ed25519 private key from a PKCS#8 PEM file (errors never echo the key)."""
    from greentic.bundle import signing

    return signing.load_private_key(read_file(path, "signing key"), what=str(path))


def load_trusted_keys(path: Path) -> list[Any]:
    """Keys of a `greentic.trust-root.v1` file (e.g. `<store>/<env>/trust-root.json`)."""
    from greentic.trust.trust_root import load_trust_root

    if not path.is_file():
        raise NotFound(f"trust root {path} does not exist")
    return load_trust_root(path)


@click.group("bundle", cls=Boundary, noun="bundle", context_settings=CONTEXT)
def bundle() -> None:
    """Build, inspect and push .gtbundle files."""


@bundle.command("build")
@click.argument("src", type=SafePath(path_type=Path, file_okay=False))
@click.option("-o", "--out", type=SafePath(path_type=Path, dir_okay=False), required=True)
@click.option(
    "--sign-key",
    type=SafePath(path_type=Path, dir_okay=False),
    help="Ed25519 PKCS#8 PEM key; signs every pack built from source.",
)
def build(src: Path, out: Path, sign_key: Path | None) -> None:
    """Build SRC (bundle.yaml + packs/…; see docs/bundle-format.md) into the .gtbundle OUT."""
    from greentic.bundle.build import build_bundle_dir

    key = load_signing_key(sign_key) if sign_key else None
    built = build_bundle_dir(src, out, sign_key=key)
    emit({"bundle": str(built.path), "digest": built.digest, "size": built.size})


@bundle.command("inspect")
@click.argument("file", type=SafePath(path_type=Path, dir_okay=False))
@click.option(
    "--trust-root",
    type=SafePath(path_type=Path, dir_okay=False),
    help="trust-root.json whose keys verify the pack signatures.",
)
@click.option("--require-signed", is_flag=True, help="Fail unless every pack verifies.")
def inspect(file: Path, trust_root: Path | None, require_signed: bool) -> None:
    """Show FILE's manifest, packs, flows, signature status and digest."""
    from greentic.bundle import reader

    if not file.is_file():
        raise NotFound(f"bundle file {file} does not exist")
    keys = load_trusted_keys(trust_root) if trust_root else None
    if require_signed:
        if keys is None:
            raise TrustRootError("--require-signed needs --trust-root FILE")
        reader.read_bundle(file, trusted_keys=keys)
    emit(reader.inspect(file, trusted_keys=keys))


@bundle.command("push")
@click.argument("file", type=SafePath(path_type=Path, dir_okay=False))
@click.argument("reference")
@click.option(
    "--insecure",
    is_flag=True,
    help="Plain HTTP for this registry (else only hosts in GREENTIC_OCI_INSECURE_REGISTRIES).",
)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds per I/O.")
def push(file: Path, reference: str, insecure: bool, timeout: float) -> None:
    """Push FILE to REFERENCE (oci://host[:port]/repo:tag); prints the manifest digest."""
    from greentic.bundle import reader
    from greentic.fetch import push as oci_push

    if not reference.startswith("oci://"):
        raise InvalidArgument(f"push target `{reference}` must be oci://host[:port]/repo:tag")
    reader.read_bundle(file)  # refuse to publish something that is not a valid bundle
    pushed = oci_push.push(file, reference, insecure=insecure, timeout=timeout)
    emit(
        {
            "reference": pushed.reference,
            "manifest_digest": pushed.manifest_digest,
            "bundle_digest": pushed.bundle_digest,
            "size": pushed.size,
        }
    )
