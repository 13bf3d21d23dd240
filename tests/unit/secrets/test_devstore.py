"""The dev-store: AES-256-GCM per value, master key from the env, flock on every access."""

from __future__ import annotations

import base64
import hashlib
import multiprocessing
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from greentic.errors import InvalidArgument, IoError, StoreError
from greentic.secrets import DevStore, secret_uri, validate_secret_path

URI = "secret://local/tenant-default/_/messaging-telegram/telegram_bot_token"


def test_round_trip_and_format(tmp_path: Path) -> None:
    store = DevStore(tmp_path / ".greentic" / "dev" / ".dev.secrets.env")
    assert store.get(URI) is None
    assert store.put(URI, "hunter2") is True
    assert store.get(URI) == "hunter2"
    assert store.list() == [URI]
    text = store.path.read_text()
    assert "hunter2" not in text
    (line,) = [ln for ln in text.splitlines() if not ln.startswith("#")]
    uri, _, token = line.partition("=")
    blob = base64.b64decode(token)
    key = hashlib.sha256(b"").digest()  # documented: SHA-256 of the empty master key
    plain = AESGCM(key).decrypt(blob[:12], blob[12:], uri.encode())
    assert (uri, plain) == (URI, b"hunter2")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_unchanged_put_does_not_rewrite(tmp_path: Path) -> None:
    store = DevStore(tmp_path / "d.env")
    store.put(URI, "v")
    before = store.path.read_bytes()
    assert store.put(URI, "v") is False
    assert store.path.read_bytes() == before
    assert store.put(URI, "w") is True
    assert store.path.read_bytes() != before


def test_upstream_plural_scheme_is_the_same_key(tmp_path: Path) -> None:
    store = DevStore(tmp_path / "d.env")
    store.put(URI.replace("secret://", "secrets://"), "v")
    assert store.get(URI) == "v"


def test_master_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = DevStore(tmp_path / "d.env")
    monkeypatch.setenv("GREENTIC_DEV_MASTER_KEY", "k1")
    store.put(URI, "v")
    assert store.get(URI) == "v"
    monkeypatch.setenv("GREENTIC_DEV_MASTER_KEY", "k2")
    with pytest.raises(StoreError, match="GREENTIC_DEV_MASTER_KEY differs") as err:
        store.get(URI)
    assert "v" not in err.value.message.split("`")[-1]


def test_read_only_file_fails_loudly(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores file modes")
    store = DevStore(tmp_path / "d.env")
    store.put(URI, "v")
    store.path.chmod(0o400)
    with pytest.raises(IoError, match="read-write"):
        store.get(URI)


def test_read_only_mount_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a Secret mounted read-only at the path gives: EROFS on the read-write open."""
    import errno

    from greentic.secrets import devstore

    real_open = os.open

    def ro_open(path: object, flags: int, *args: object) -> int:
        if str(path).endswith("d.env") and flags & os.O_RDWR:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(devstore.os, "open", ro_open)
    with pytest.raises(IoError, match="Read-only file system") as err:
        DevStore(tmp_path / "d.env").get(URI)
    assert err.value.hint is not None and "writable" in err.value.hint


def test_read_only_directory_fails_loudly(tmp_path: Path) -> None:
    """A mount where the file cannot be opened read-write (a directory in the way)."""
    path = tmp_path / "d.env"
    path.mkdir()
    with pytest.raises(IoError, match="must be a writable file"):
        DevStore(path).list()


def test_a_symlinked_dev_store_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    """A link could point the sealed-secrets writes (and the lock) at any file."""
    target = tmp_path / "elsewhere.env"
    target.write_text("not a dev-store\n")
    link = tmp_path / "d.env"
    link.symlink_to(target)
    with pytest.raises(IoError, match="is a symbolic link") as caught:
        DevStore(link).put(URI, "v")
    assert caught.value.hint and "real file" in caught.value.hint
    assert target.read_text() == "not a dev-store\n" and link.is_symlink()


def test_garbage_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "d.env"
    path.write_text("not a line\n")
    with pytest.raises(StoreError, match="line 1"):
        DevStore(path).list()


def _writer(path: str, n: int) -> None:
    store = DevStore(Path(path))
    for i in range(5):
        store.put(f"secret://local/t/_/c/n{n}_{i}", f"v{n}")


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "d.env"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(path), n)) for n in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert all(p.exitcode == 0 for p in procs)
    assert len(DevStore(path).list()) == 30


@pytest.mark.parametrize(
    "path",
    [
        "tenant-default/_/messaging-telegram/telegram_bot_token",
        "/default/_/messaging-01abc/webhook_secret",
        "t/team-a/k8s-deployer/deployer_token",
    ],
)
def test_valid_paths(path: str) -> None:
    assert validate_secret_path(path) == path.lstrip("/")


@pytest.mark.parametrize(
    ("path", "match"),
    [
        ("a/b/c", "exactly 4"),
        ("a/_/c/d/e", "exactly 4"),
        ("a//c/d", "exactly 4"),
        ("t/default/c/n", "not store-canonical"),
        ("t/_/c/Name", "lowercase"),
        ("t/_/c/_n", "lowercase"),
        ("t/_/c/a__b", "lowercase"),
        ("t/_/../n", "category"),
    ],
)
def test_invalid_paths(path: str, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        validate_secret_path(path)


def test_secret_uri() -> None:
    assert secret_uri("local", "/a/_/c/n") == "secret://local/a/_/c/n"
