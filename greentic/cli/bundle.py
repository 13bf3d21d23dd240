"""`gtc bundle build|inspect|push`: artifact tooling for .gtbundle files (not an `op` verb).

Each command prints one JSON result on stdout; a user error is one `error: …` line on stderr
and exit 1, never a traceback. Registered lazily by the root `gtc` group. `cli_errors` and
`load_trusted_keys` are shared with `gtc pack` (greentic/cli/pack.py).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from greentic.errors import GreenticError, InvalidArgument, IoError, NotFound, TrustRootError

F = TypeVar("F", bound=Callable[..., Any])


def cli_errors(fn: F) -> F:
    """Turn a GreenticError (or an OSError) into one stderr line and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GreenticError as exc:
            hint = f" (hint: {exc.hint})" if exc.hint else ""
            click.echo(f"error: {exc.kind}: {exc.message}{hint}", err=True)
            sys.exit(1)
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            click.echo(f"error: io:{where} {exc.strerror or exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


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


@click.group("bundle")
def bundle() -> None:
    """Build, inspect and push .gtbundle files."""


@bundle.command("build")
@click.argument("src", type=click.Path(path_type=Path, file_okay=False))
@click.option("-o", "--out", type=click.Path(path_type=Path, dir_okay=False), required=True)
@click.option(
    "--sign-key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Ed25519 PKCS#8 PEM key; signs every pack built from source.",
)
@cli_errors
def build(src: Path, out: Path, sign_key: Path | None) -> None:
    """Build SRC (bundle.yaml + packs/…; see docs/bundle-format.md) into the .gtbundle OUT."""
    from greentic.bundle.build import build_bundle_dir

    key = load_signing_key(sign_key) if sign_key else None
    built = build_bundle_dir(src, out, sign_key=key)
    emit({"bundle": str(built.path), "digest": built.digest, "size": built.size})


@bundle.command("inspect")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--trust-root",
    type=click.Path(path_type=Path, dir_okay=False),
    help="trust-root.json whose keys verify the pack signatures.",
)
@click.option("--require-signed", is_flag=True, help="Fail unless every pack verifies.")
@cli_errors
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
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("reference")
@click.option(
    "--insecure",
    is_flag=True,
    help="Plain HTTP for this registry (else only hosts in GREENTIC_OCI_INSECURE_REGISTRIES).",
)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds per I/O.")
@cli_errors
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
