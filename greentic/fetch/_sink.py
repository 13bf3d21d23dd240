"""Stream bytes into `dest_dir` with a running sha256 and a size cap; nothing partial survives.

Bytes go to a hidden temp file in `dest_dir`; `commit(name)` fsyncs and renames it into place.
Leaving the `with` block without a commit (any error, the cap, a retry) deletes the temp file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from greentic.errors import FetchError, IoError
from greentic.fetch._types import FetchedBundle

CAP_HINT = "raise the cap (max_bytes) only if the source is trusted"


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

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def commit(self, name: str) -> FetchedBundle:
        """Make the bytes durable as `dest_dir/name` and describe them."""
        assert self._fh is not None and self._tmp is not None
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        target = self.dest_dir / name
        os.replace(self._tmp, target)
        self._tmp = None
        return FetchedBundle(path=target, digest=self.digest, size=self.size)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fh is not None and not self._fh.closed:
            self._fh.close()
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
            self._tmp = None
