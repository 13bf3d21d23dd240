"""`http(s)://` pulls load the TLS trust store at the first handshake, and still verify (#16)."""

from __future__ import annotations

import hashlib
import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from greentic.errors import FetchError
from greentic.fetch import _http, fetch
from tests.support.tls import self_signed

BODY = b"bundle bytes " * 100
DIGEST = "sha256:" + hashlib.sha256(BODY).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    redirect_to = ""

    def do_GET(self) -> None:
        if self.path == "/moved" and self.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
            self.send_header("Content-Length", "0")
        else:
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        if self.path != "/moved":
            self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        return None


def serve(tls: ssl.SSLContext | None = None, redirect_to: str = "") -> Iterator[str]:
    handler = type("H", (Handler,), {"redirect_to": redirect_to})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    """(cert.pem, server context) for a self-signed certificate naming 127.0.0.1."""
    return self_signed(tmp_path_factory.mktemp("tls"), ("127.0.0.1",), name="lazy trust test")


def test_a_plain_http_pull_loads_no_trust_store(loads: list[str], tmp_path: Path) -> None:
    for base in serve():
        got = fetch(f"{base}/b.gtbundle", tmp_path, attempts=1)
    assert got.digest == DIGEST
    assert loads == []


def test_https_still_verifies_against_httpx_default_trust(
    cert: tuple[Path, ssl.SSLContext], loads: list[str], tmp_path: Path
) -> None:
    """certifi does not trust the self-signed server: the pull fails, after loading trust."""
    for base in serve(cert[1]):
        with pytest.raises(FetchError):
            fetch(f"{base}/b.gtbundle", tmp_path, attempts=1)
    assert loads == ["load"]


def test_a_redirect_from_http_to_https_verifies_with_ssl_cert_file(
    cert: tuple[Path, ssl.SSLContext],
    loads: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    for tls_base in serve(cert[1]):
        for base in serve(redirect_to=f"{tls_base}/b.gtbundle"):
            got = fetch(f"{base}/moved", tmp_path, attempts=1)
    assert got.digest == DIGEST
    assert loads == ["load"]


def test_the_context_verifies_before_any_trust_is_loaded() -> None:
    ctx = _http.lazy_trust()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] == 0
