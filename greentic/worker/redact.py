"""Keep secrets out of every line the worker writes: logs, stdout, errors (SPEC §3).

A `Redactor` learns each secret value as it is read (the dev-store reader reports them) and
replaces it, and any Bot API `bot<token>` path segment, with a marker. `RedactingLog` wraps a
log sink so nothing reaches `system.log` unredacted. Pure apart from its learned set.
"""

from __future__ import annotations

import re
import threading

from greentic.worker.logs import LogSink

MARK = "<redacted>"
BOT_PATH_RE = re.compile(r"bot\d+:[A-Za-z0-9_-]+")
MIN_SECRET_LEN = 4  # shorter values would blank out ordinary words


class Redactor:
    """Example: `r = Redactor(); r.learn(tok); r(f"/bot{tok}/x")` → `/bot<redacted>/x`."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def learn(self, value: str) -> None:
        if len(value) >= MIN_SECRET_LEN:
            with self._lock:
                self._secrets.add(value)

    def __call__(self, text: str) -> str:
        with self._lock:
            known = sorted(self._secrets, key=len, reverse=True)
        for secret in known:
            if secret in text:
                text = text.replace(secret, MARK)
        return BOT_PATH_RE.sub(f"bot{MARK}", text)


class RedactingLog:
    """A LogSink that redacts every message before passing it on."""

    def __init__(self, sink: LogSink, redactor: Redactor) -> None:
        self.sink = sink
        self.redact = redactor

    def write(self, level: str, message: str) -> None:
        self.sink.write(level, self.redact(message))
