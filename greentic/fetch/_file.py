"""`file://` and plain-path sources: copy into dest_dir while hashing (no httpx import)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from greentic.errors import FetchError, NotFound
from greentic.fetch._refs import dest_name
from greentic.fetch._sink import Sink
from greentic.fetch._types import CHUNK, FetchedBundle


def local_path(uri: str) -> Path:
    """The path a `file://` URI or plain path names (`file://host/…` is refused)."""
    if not uri.lower().startswith("file://"):
        return Path(uri)
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise FetchError(
            f"file URI {uri} names host `{parts.netloc}`; only local files can be read"
        )
    return Path(unquote(parts.path))


def fetch_file(uri: str, dest_dir: Path, *, max_bytes: int) -> FetchedBundle:
    """Copy the local bundle into `dest_dir` (never touching the source), hashing as it goes."""
    src = local_path(uri)
    what = f"reading bundle {src}"
    if src.is_dir():
        raise FetchError(
            f"bundle reference {uri} names the directory {src}, not a .gtbundle file",
            hint="build the directory into a bundle first: gtc bundle build DIR -o FILE.gtbundle",
        )
    if not src.is_file():
        raise NotFound(f"bundle file {src} does not exist (from reference {uri})")
    try:
        with open(src, "rb") as fin, Sink(dest_dir, max_bytes=max_bytes, what=what) as sink:
            while chunk := fin.read(CHUNK):
                sink.write(chunk)
            return sink.commit(dest_name(uri, src.name))
    except OSError as exc:
        raise FetchError(f"{what}: {exc.strerror or exc}") from None
