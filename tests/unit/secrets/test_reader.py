"""The worker's read-only dev-store view: location rules, re-reads, refusals, loud failures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from greentic.errors import Conflict, IoError
from greentic.secrets import DevStore
from greentic.secrets.reader import PATH_ENV, READ_ONLY, SecretsReader, locate

URI = "secret://local/tenant-default/_/messaging-telegram/telegram_bot_token"


def test_location_rules(tmp_path: Path) -> None:
    env_dir = tmp_path / "local"
    primary = env_dir / ".greentic" / "dev" / ".dev.secrets.env"
    legacy = env_dir / ".greentic" / "state" / "dev" / ".dev.secrets.env"
    assert locate(env_dir, {}) == primary  # nothing exists: the primary, created on open
    legacy.parent.mkdir(parents=True)
    legacy.touch()
    assert locate(env_dir, {}) == legacy
    primary.parent.mkdir(parents=True)
    primary.touch()
    assert locate(env_dir, {}) == primary
    explicit = tmp_path / "elsewhere.env"
    assert locate(env_dir, {PATH_ENV: str(explicit)}) == primary  # only if that file exists
    explicit.touch()
    assert locate(env_dir, {PATH_ENV: str(explicit)}) == explicit


def test_every_read_sees_the_current_value_and_reports_it(tmp_path: Path) -> None:
    path = tmp_path / ".dev.secrets.env"
    seen: list[str] = []
    reader = SecretsReader(path, on_value=seen.append)
    assert reader.get(URI) is None
    DevStore(path).put(URI, "first-token")
    assert reader.get(URI) == "first-token"
    DevStore(path).put(URI, "rotated-token")  # rotation without a restart
    assert reader.get("secrets://" + URI.removeprefix("secret://")) == "rotated-token"
    assert seen == ["first-token", "rotated-token"]
    assert reader.get("not-a-uri") is None


def test_writes_are_refused(tmp_path: Path) -> None:
    reader = SecretsReader(tmp_path / "d.env")
    for attempt in (lambda: reader.put(URI, "v"), lambda: reader.delete(URI)):
        with pytest.raises(Conflict) as err:
            attempt()
        assert err.value.message == READ_ONLY
    assert not (tmp_path / "d.env").exists()


def test_a_read_only_file_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "d.env"
    DevStore(path).put(URI, "tok-7f3a9c")
    real_open = os.open

    def refuse(p: object, flags: int, *a: object) -> int:
        if Path(str(p)) == path and flags & os.O_RDWR:
            raise OSError(30, "Read-only file system")
        return real_open(p, flags, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refuse)
    reader = SecretsReader(path)
    for attempt in (reader.check, lambda: reader.get(URI)):
        with pytest.raises(IoError) as err:
            attempt()
        assert err.value.message.startswith(f"io error on {path}: Read-only file system")
        assert "must be a writable file" in err.value.message
        assert "tok-7f3a9c" not in err.value.message
