"""Stream bytes into `dest_dir` with a running sha256 and a size cap; nothing partial survives.

Bytes go to a hidden temp file in `dest_dir`; `commit(name)` fsyncs and renames it into place.
Leaving the `with` block without a commit (any error, the cap, a retry) deletes the temp file.
While bytes stream in, every SYNC_EVERY bytes a background `fdatasync` writes back what came so
far, so the disk works while the network does and `commit`'s fsync has only the tail left (#16).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from greentic.errors import FetchError, IoError
from greentic.fetch._types import FetchedBundle

CAP_HINT = "raise the cap (max_bytes) only if the source is trusted"
SYNC_EVERY = 8 * 1024 * 1024


class Sink:
    """Example: `with Sink(dest, max_bytes=n, what="…") as s: s.write(b); s.commit("f")`."""

    def __init__(self, dest_dir: Path, *, max_bytes: int, what: str) -> None:
        self.dest_dir = dest_dir
        self.max_bytes = max_bytes
        self.what = what
        self.size = 0
        self._hash = hashlib.sha256()
        self._fh: BinaryIO | None = None
        self._tmp: Path | None = None
        self._unsynced = 0
        self._syncer: threading.Thread | None = None
        self._sync_error: OSError | None = None

    def __enter__(self) -> Sink:
        try:
            self.dest_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".fetch-", suffix=".part", dir=self.dest_dir)
        except OSError as exc:
            raise IoError(
                f"{self.what}: cannot write into {self.dest_dir}: {exc.strerror or exc}"
            ) from None
        self._tmp = Path(tmp)
        self._fh = os.fdopen(fd, "wb")
        return self

    def write(self, chunk: bytes) -> None:
        """Append `chunk`; over the cap raises a FetchError (the temp file is then removed)."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise FetchError(
                f"{self.what}: the bundle is larger than the {self.max_bytes}-byte cap; "
                "download aborted and nothing kept",
                hint=CAP_HINT,
            )
        self._hash.update(chunk)
        assert self._fh is not None
        self._fh.write(chunk)
        self._unsynced += len(chunk)
        if self._unsynced >= SYNC_EVERY and not (self._syncer and self._syncer.is_alive()):
            self._fh.flush()
            self._unsynced = 0
            self._syncer = threading.Thread(
                target=self._write_back, args=(self._fh.fileno(),), name="sink-sync", daemon=True
            )
            self._syncer.start()

    def _write_back(self, fd: int) -> None:
        try:
            os.fdatasync(fd)
        except OSError as exc:  # an I/O error is reported once per file: commit raises it
            self._sync_error = exc

    def _join(self) -> None:
        if self._syncer is not None:
            self._syncer.join()
            self._syncer = None

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def commit(self, name: str) -> FetchedBundle:
        """Make the bytes durable as `dest_dir/name` and describe them."""
        assert self._fh is not None and self._tmp is not None
        self._fh.flush()
        self._join()
        if self._sync_error is not None:
            raise self._sync_error
        os.fsync(self._fh.fileno())
        written = os.fstat(self._fh.fileno())
        self._fh.close()
        target = self.dest_dir / name
        os.replace(self._tmp, target)
        self._tmp = None
        return FetchedBundle(
            path=target,
            digest=self.digest,
            size=self.size,
            file_id=(written.st_dev, written.st_ino),
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._join()  # before the close: the thread holds the file's descriptor number
        if self._fh is not None and not self._fh.closed:
            self._fh.close()
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
            self._tmp = None
