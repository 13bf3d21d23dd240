"""`gtc pack build|sign|verify`: .gtpack tooling (not an `op` verb).

Results are one JSON line on stdout; a failure is the error boundary's one JSON line on
stderr (noun `pack`, op the verb) and exit 1. Registered lazily by the root `gtc` group.
"""

from __future__ import annotations

from pathlib import Path

import click

from greentic.cli.boundary import Boundary, SafePath
from greentic.cli.bundle import (
    CONTEXT,
    emit,
    load_signing_key,
    load_trusted_keys,
    read_file,
)


@click.group("pack", cls=Boundary, noun="pack", context_settings=CONTEXT)
def pack() -> None:
    """Build, sign and verify .gtpack files."""


@pack.command("build")
@click.argument("src", type=SafePath(path_type=Path, file_okay=False))
@click.option("-o", "--out", type=SafePath(path_type=Path, dir_okay=False), required=True)
@click.option(
    "--sign-key",
    type=SafePath(path_type=Path, dir_okay=False),
    help="Ed25519 PKCS#8 PEM key to sign the manifest with.",
)
def build(src: Path, out: Path, sign_key: Path | None) -> None:
    """Build the pack directory SRC (pack.yaml + flows/*.ygtc) into the .gtpack OUT."""
    from greentic.bundle.build import build_pack_dir

    key = load_signing_key(sign_key) if sign_key else None
    built = build_pack_dir(src, out, sign_key=key)
    emit({"pack": str(built.path), "digest": built.digest, "size": built.size})


@pack.command("sign")
@click.argument("file", type=SafePath(path_type=Path, dir_okay=False))
@click.option(
    "--key",
    "key_path",
    type=SafePath(path_type=Path, dir_okay=False),
    required=True,
    help="Ed25519 PKCS#8 PEM private key (e.g. ~/.greentic/operator/key.pem).",
)
@click.option(
    "-o",
    "--out",
    type=SafePath(path_type=Path, dir_okay=False),
    help="Write the signed pack here (default: replace FILE).",
)
def sign(file: Path, key_path: Path, out: Path | None) -> None:
    """Add an Ed25519 signature over FILE's canonical manifest."""
    from greentic.bundle import signing
    from greentic.bundle.build import resign, write_bytes_atomically

    key = load_signing_key(key_path)
    data = resign(read_file(file, "pack"), key, what=f"pack {file}")
    built = write_bytes_atomically(out or file, data)
    emit(
        {
            "pack": str(built.path),
            "digest": built.digest,
            "key_id": signing.key_id_for(key.public_key()),
        }
    )


@pack.command("verify")
@click.argument("file", type=SafePath(path_type=Path, dir_okay=False))
@click.option("--trust-root", type=SafePath(path_type=Path, dir_okay=False), required=True)
def verify(file: Path, trust_root: Path) -> None:
    """Verify FILE's signature 1-of-N against a trust-root.json; exit 1 unless verified."""
    from greentic.bundle import reader, signing

    keys = load_trusted_keys(trust_root)
    loaded = reader.read_pack(read_file(file, "pack"), what=f"pack {file}")
    key_id = signing.require_verified(loaded.manifest, keys, what=f"pack {file}")
    emit({"pack": str(file), "status": "verified", "key_id": key_id})
