"""`gtc bundle build|inspect` and `gtc pack build|sign|verify` through click's CliRunner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from bundle_testlib import FIXTURES, fixture
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from greentic.bundle import reader, signing
from greentic.bundle.digest import sha256_file
from greentic.cli.bundle import bundle
from greentic.cli.pack import pack
from greentic.errors import TrustRootError


def run(group: object, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(group, list(args), catch_exceptions=False)  # type: ignore[arg-type]
    return result.exit_code, result.stdout, result.stderr


def write_key(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return key


def write_trust_root(path: Path, *keys: Ed25519PrivateKey) -> Path:
    doc = {
        "schema": "greentic.trust-root.v1",
        "keys": [
            {"key_id": tk.key_id, "public_key_pem": tk.public_key_pem}
            for tk in (signing.trusted_key(k.public_key()) for k in keys)
        ],
    }
    path.write_text(json.dumps(doc))
    return path


def test_build_prints_digest_and_matches_the_fixture(tmp_path: Path) -> None:
    out = tmp_path / "wb.gtbundle"
    code, stdout, stderr = run(
        bundle, "build", str(FIXTURES / "src" / "webchat-bot"), "-o", str(out)
    )
    assert (code, stderr) == (0, "")
    result = json.loads(stdout)
    assert result == {"bundle": str(out), "digest": sha256_file(out), "size": out.stat().st_size}
    assert out.read_bytes() == fixture("webchat-bot.gtbundle").read_bytes()


def test_inspect_reports_unsigned_packs() -> None:
    code, stdout, _ = run(bundle, "inspect", str(fixture("webchat-bot.gtbundle")))
    assert code == 0
    doc = json.loads(stdout)
    assert doc["bundle_id"] == "webchat-bot"
    assert doc["digest"] == sha256_file(fixture("webchat-bot.gtbundle"))
    [p] = doc["packs"]
    assert p["signature"] == {"status": "unsigned"}
    assert p["flows"] == [{"id": "main", "kind": "messaging", "entrypoints": ["default"]}]
    assert doc["pack_configs"] == ["webchat-bot"]


def test_signed_bundle_verifies_and_a_foreign_signature_is_refused(tmp_path: Path) -> None:
    good, other = tmp_path / "good.pem", tmp_path / "other.pem"
    good_key, other_key = write_key(good), write_key(other)
    out = tmp_path / "signed.gtbundle"
    code, _, stderr = run(
        bundle,
        "build",
        str(FIXTURES / "src" / "webchat-bot"),
        "-o",
        str(out),
        "--sign-key",
        str(good),
    )
    assert code == 0, stderr
    trusted = write_trust_root(tmp_path / "trust.json", good_key)
    untrusted = write_trust_root(tmp_path / "untrusted.json", other_key)

    code, stdout, _ = run(
        bundle, "inspect", str(out), "--trust-root", str(trusted), "--require-signed"
    )
    assert code == 0
    sig = json.loads(stdout)["packs"][0]["signature"]
    assert sig == {"status": "verified", "key_id": signing.key_id_for(good_key.public_key())}

    code, stdout, stderr = run(
        bundle, "inspect", str(out), "--trust-root", str(untrusted), "--require-signed"
    )
    assert (code, stdout) == (1, "")
    assert stderr.count("\n") == 1
    assert json.loads(stderr)["error"]["kind"] == "trust-root"
    assert "pack `webchat-bot` is invalid" in stderr and "Traceback" not in stderr

    code, stdout, _ = run(bundle, "inspect", str(out), "--trust-root", str(untrusted))
    assert code == 0 and json.loads(stdout)["packs"][0]["signature"]["status"] == "invalid"

    with pytest.raises(TrustRootError, match="invalid"):
        reader.read_bundle(out, trusted_keys=[signing.trusted_key(other_key.public_key())])


def test_pack_build_sign_verify(tmp_path: Path) -> None:
    key_path = tmp_path / "k.pem"
    key = write_key(key_path)
    gtpack = tmp_path / "p.gtpack"
    src = FIXTURES / "src" / "webchat-bot" / "packs" / "webchat-bot"
    assert run(pack, "build", str(src), "-o", str(gtpack))[0] == 0
    trust = write_trust_root(tmp_path / "trust.json", key)
    code, _, stderr = run(pack, "verify", str(gtpack), "--trust-root", str(trust))
    assert code == 1 and "is unsigned" in stderr and stderr.count("\n") == 1
    code, stdout, _ = run(pack, "sign", str(gtpack), "--key", str(key_path))
    assert code == 0 and json.loads(stdout)["key_id"] == signing.key_id_for(key.public_key())
    code, stdout, _ = run(pack, "verify", str(gtpack), "--trust-root", str(trust))
    assert code == 0 and json.loads(stdout)["status"] == "verified"

    # a signed prebuilt pack goes into a bundle verbatim
    bundle_src = tmp_path / "bsrc"
    shutil.copytree(FIXTURES / "src" / "webchat-bot", bundle_src)
    shutil.rmtree(bundle_src / "packs" / "webchat-bot")
    shutil.copyfile(gtpack, bundle_src / "packs" / "webchat-bot.gtpack")
    out = tmp_path / "b.gtbundle"
    assert run(bundle, "build", str(bundle_src), "-o", str(out))[0] == 0
    code, stdout, _ = run(
        bundle, "inspect", str(out), "--trust-root", str(trust), "--require-signed"
    )
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inspect", "/nonexistent/x.gtbundle"], "does not exist"),
        (["build", "/nonexistent", "-o", "/tmp/x.gtbundle"], "does not exist"),
        (["push", "/nonexistent/x.gtbundle", "http://h/x"], "must be oci://"),
        (["inspect", __file__], "not a valid ZIP archive"),
    ],
)
def test_errors_are_one_line_without_traceback(args: list[str], message: str) -> None:
    code, stdout, stderr = run(bundle, *args)
    assert (code, stdout) == (1, "")
    assert message in json.loads(stderr)["error"]["message"] and stderr.count("\n") == 1


def test_build_refuses_a_flow_without_id(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "src" / "perf-smoke", src)
    (src / "packs" / "perf-smoke" / "flows" / "main.ygtc").write_text(
        "type: messaging\nnodes: {}\n"
    )
    code, _, stderr = run(bundle, "build", str(src), "-o", str(tmp_path / "x.gtbundle"))
    assert code == 1 and "missing `id`" in stderr
    assert not (tmp_path / "x.gtbundle").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["src"]


def test_build_refuses_a_flow_that_routes_to_a_missing_node(tmp_path: Path) -> None:
    """The worker's flow rules run at build time, so a broken flow never reaches a revision."""
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "src" / "perf-smoke", src)
    (src / "packs" / "perf-smoke" / "flows" / "main.ygtc").write_text(
        "id: main\ntype: messaging\nnodes:\n"
        "  in:\n    templating.text: {template: hi}\n    routing: [{to: nowhere}]\n"
    )
    code, _, stderr = run(bundle, "build", str(src), "-o", str(tmp_path / "x.gtbundle"))
    assert code == 1 and "nowhere" in stderr and "main.ygtc" in stderr, stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "x.gtbundle").exists()
