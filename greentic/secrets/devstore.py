"""The dev-store file: one AES-256-GCM sealed value per secret URI, under an exclusive flock.

Format (docs/secrets-dev-store.md): UTF-8 lines; `#` lines and blank lines are ignored; each
entry is `<secret uri>=<base64(nonce[12] || ciphertext || tag[16])>`, AAD = the URI, key =
SHA-256 of `$GREENTIC_DEV_MASTER_KEY` ("" when unset). Every access opens the file
read-write-create and takes flock(LOCK_EX), so a read-only file fails loudly (as upstream).
Writes go temp + fsync + rename; a writer re-checks the inode after locking so it never
edits a file another writer has just replaced.
"""

from __future__ import annotations

import base64
import binascii
import errno
import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from greentic.errors import IoError, StoreError
from greentic.secrets.paths import canonical_uri
from greentic.store import atomic

MASTER_KEY_ENV = "GREENTIC_DEV_MASTER_KEY"
HEADER = "# greentic dev-store v1: <secret uri>=base64(nonce||AES-256-GCM ciphertext||tag)\n"
NONCE_LEN = 12


def master_key() -> bytes:
    """SHA-256 of $GREENTIC_DEV_MASTER_KEY (of "" when unset: portable to a pod)."""
    return hashlib.sha256(os.environ.get(MASTER_KEY_ENV, "").encode()).digest()


def seal(key: bytes, uri: str, value: str) -> str:
    nonce = os.urandom(NONCE_LEN)
    sealed = AESGCM(key).encrypt(nonce, value.encode(), uri.encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(key: bytes, uri: str, token: str) -> str:
    blob = base64.b64decode(token, validate=True)
    return AESGCM(key).decrypt(blob[:NONCE_LEN], blob[NONCE_LEN:], uri.encode()).decode()


def parse(text: str, *, path: Path) -> dict[str, str]:
    """`{uri: sealed token}` of the file's text (comments and blank lines skipped)."""
    entries: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        uri, sep, token = line.partition("=")
        if not sep or not uri.startswith("secret://"):
            raise StoreError(f"dev-store {path}: line {n} is not `<secret uri>=<sealed value>`")
        entries[uri] = token
    return entries


def render(entries: dict[str, str]) -> bytes:
    return (HEADER + "".join(f"{u}={t}\n" for u, t in sorted(entries.items()))).encode()


class DevStore:
    """A dev-store file. Example: `DevStore(paths.dev_secrets).put("secret://local/t/_/c/n", v)`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _locked(self) -> Iterator[dict[str, str]]:
        """Open read-write-create, flock, and yield the current entries (same inode as path)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IoError(f"io error on {self.path.parent}: {exc.strerror}") from None
        while True:
            try:  # never through a symlink: the file holds sealed secrets, written in place
                fd = os.open(
                    self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
                )
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise IoError(
                        f"dev-store {self.path} is a symbolic link; refusing to open it",
                        hint="point the store at the real file (or copy it), not at a link",
                    ) from None
                raise IoError(
                    f"io error on {self.path}: {exc.strerror} — the dev-store is opened "
                    "read-write with a lock on every access, so it must be a writable file",
                    hint="copy it into a writable directory (as the stage-dev-secrets init "
                    "container does) instead of mounting it read-only",
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
                except FileNotFoundError:
                    same = False
                if not same:  # replaced while we waited: lock the new file instead
                    continue
                with os.fdopen(os.dup(fd), "rb") as fh:
                    data = fh.read()
                try:
                    text = data.decode()
                except UnicodeDecodeError:
                    raise StoreError(f"dev-store {self.path} is not UTF-8 text") from None
                yield parse(text, path=self.path)
                return
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _write(self, entries: dict[str, str]) -> None:
        atomic.write_bytes(self.path, render(entries), mode=0o600)

    def put(self, uri: str, value: str) -> bool:
        """Seal `value` under `uri`; returns False (file untouched) when it already holds it."""
        uri = canonical_uri(uri)
        key = master_key()
        with self._locked() as entries:
            old = entries.get(uri)
            if old is not None and self._try_unseal(key, uri, old) == value:
                return False
            entries[uri] = seal(key, uri, value)
            self._write(entries)
            return True

    def get(self, uri: str) -> str | None:
        """The plaintext under `uri`, or None. A wrong master key is a clear StoreError."""
        uri = canonical_uri(uri)
        with self._locked() as entries:
            token = entries.get(uri)
        if token is None:
            return None
        value = self._try_unseal(master_key(), uri, token)
        if value is None:
            raise StoreError(
                f"dev-store {self.path}: cannot decrypt `{uri}` — "
                f"${MASTER_KEY_ENV} differs from the one it was written with (or the file "
                "was edited)"
            )
        return value

    def list(self) -> list[str]:
        """The URIs held (sorted); values stay sealed."""
        with self._locked() as entries:
            return sorted(entries)

    @staticmethod
    def _try_unseal(key: bytes, uri: str, token: str) -> str | None:
        try:
            return unseal(key, uri, token)
        except (InvalidTag, ValueError, binascii.Error):
            return None
