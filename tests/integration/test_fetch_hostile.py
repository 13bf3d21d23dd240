"""Fetches against hostile servers on loopback: gzip bombs, huge tokens, trickles, foreign realms.

Size: the scripted server, its TLS certificate and the tests that drive them read together.

Each test stands up real threaded HTTP(S) servers on 127.0.0.1 / 127.0.0.2 that record what
they were sent, and every server answer is bounded (finite bodies, trickles that end), so a
regression fails the test instead of hanging it.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import ssl
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType

import httpx
import pytest

from greentic.errors import FetchError
from greentic.fetch import fetch
from tests.support.tls import self_signed

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
REPO = "hostile/app"
BUNDLE = b"PK\x03\x04 a small pretend bundle " * 64
BUNDLE_DIGEST = "sha256:" + hashlib.sha256(BUNDLE).hexdigest()
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
DISCONNECTED = (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError)

Handler = Callable[["Exchange"], None]


class Exchange(http.server.BaseHTTPRequestHandler):
    """One request to a Hostile server: the route writes the answer through `answer`."""

    server: HostileHTTPServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.server.owner.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = self.server.owner.routes.get(path)
        if route is None:
            self.answer(404, {}, [b"no such route"])
        else:
            route(self)

    def answer(self, status: int, headers: dict[str, str], body: Iterable[bytes]) -> None:
        """Write status, headers and the body chunks; stop quietly when the client hangs up."""
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            for chunk in body:
                if owner.stopping.is_set():
                    return
                self.wfile.write(chunk)
                owner.sent[path] = owner.sent.get(path, 0) + len(chunk)
        except DISCONNECTED:
            return

    def log_message(self, format: str, *args: object) -> None:
        pass


class HostileHTTPServer(http.server.ThreadingHTTPServer):
    owner: Hostile


class Hostile:
    """A scripted HTTP(S) server. Example: `with Hostile() as s: s.routes["/x"] = fn`."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.tls = tls
        self.routes: dict[str, Handler] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.sent: dict[str, int] = {}
        self.stopping = threading.Event()
        self.server: HostileHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def authority(self) -> str:
        assert self.server is not None
        return f"{self.host}:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{'https' if self.tls else 'http'}://{self.authority}{path}"

    def headers_of(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in self.seen if p.split("?", 1)[0] == path]

    def __enter__(self) -> Hostile:
        server = HostileHTTPServer((self.host, 0), Exchange)
        server.owner = self
        server.daemon_threads = True
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)


def trickle(data: bytes, every: float, stop: threading.Event) -> Iterator[bytes]:
    """One byte every `every` seconds (finite: the test bounds its own length)."""
    for i in range(len(data)):
        if stop.wait(every):
            return
        yield data[i : i + 1]


def gzip_of_zeros(mib: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MIB)
    return b"".join([*(packer.compress(zeros) for _ in range(mib)), packer.flush()])


def manifest() -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest(),
                "size": 2,
            },
            "layers": [
                {
                    "mediaType": "application/octet-stream",
                    "digest": BUNDLE_DIGEST,
                    "size": len(BUNDLE),
                }
            ],
        }
    ).encode()


def serve_registry(reg: Hostile, *, token: str | None = None, realm: str = "") -> None:
    """A registry for REPO:v1 with BUNDLE as its layer, optionally behind a bearer challenge."""

    def guarded(body: bytes, media: str) -> Handler:
        def route(x: Exchange) -> None:
            if token is not None and x.headers.get("authorization") != f"Bearer {token}":
                challenge = (
                    f'Bearer realm="{realm}",service="hostile",scope="repository:{REPO}:pull"'
                )
                x.answer(401, {"WWW-Authenticate": challenge, "Content-Length": "0"}, [])
                return
            x.answer(200, {"Content-Type": media, "Content-Length": str(len(body))}, [body])

        return route

    reg.routes[f"/v2/{REPO}/manifests/v1"] = guarded(manifest(), MANIFEST_TYPE)
    reg.routes[f"/v2/{REPO}/blobs/{BUNDLE_DIGEST}"] = guarded(BUNDLE, "application/octet-stream")


# --- 8. bodies are read under their cap as they stream -------------------------------------

CHILD = r"""
import json, sys
from pathlib import Path
from greentic.errors import FetchError
from greentic.fetch import fetch
uri, host, dest = sys.argv[1:]
try:
    fetch(uri, Path(dest), insecure_registries=frozenset({host}), attempts=1)
    error = None
except FetchError as exc:
    error = exc.message
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"error": error, "peak_rss_mib": int(hwm.split()[1]) / 1024}))
"""


def test_a_gzip_bomb_manifest_is_cut_at_the_cap_in_bounded_memory(tmp_path: Path) -> None:
    bomb = gzip_of_zeros(256)  # ~250 KiB on the wire, 256 MiB decoded
    with Hostile() as reg:
        headers = {
            "Content-Type": MANIFEST_TYPE,
            "Content-Encoding": "gzip",
            "Content-Length": str(len(bomb)),
        }
        reg.routes[f"/v2/{REPO}/manifests/v1"] = lambda x: x.answer(200, headers, [bomb])
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                f"oci://{reg.authority}/{REPO}:v1",
                reg.authority,
                str(tmp_path / "dl"),
            ],
            capture_output=True,
            text=True,
            timeout=90,
            cwd=ROOT,
            check=False,
        )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    # Python + httpx alone is ~50 MiB; decoding the bomb whole would take 256 MiB or more.
    assert result["peak_rss_mib"] < 110, result
    assert result["error"] == (
        f"pulling oci://{reg.authority}/{REPO}:v1: the manifest is larger than the "
        "4194304-byte cap; download aborted and nothing kept"
    )


def test_a_gzip_bomb_bundle_over_http_stops_decoding_past_the_cap(tmp_path: Path) -> None:
    bomb = gzip_of_zeros(64)
    with Hostile() as dist:
        dist.routes["/b.gtbundle"] = lambda x: x.answer(200, {"Content-Encoding": "gzip"}, [bomb])
        with pytest.raises(FetchError) as err:
            fetch(dist.url("/b.gtbundle"), tmp_path, max_bytes=2 * MIB, attempts=1)
    assert "the bundle is larger than the 2097152-byte cap" in err.value.message
    assert list(tmp_path.iterdir()) == []


def test_an_oversized_token_response_is_cut_while_streaming(tmp_path: Path) -> None:
    with Hostile() as reg:
        serve_registry(reg, token="t0k", realm=reg.url("/token"))
        huge = [b'{"token": "', *(b"a" * MIB for _ in range(64)), b'"}']
        reg.routes["/token"] = lambda x: x.answer(200, {"Content-Type": "application/json"}, huge)
        uri = f"oci://{reg.authority}/{REPO}:v1"
        with pytest.raises(FetchError) as err:
            fetch(uri, tmp_path, insecure_registries=frozenset({reg.authority}), attempts=1)
        assert err.value.message == (
            f"pulling {uri}: token request: the token response is larger than the "
            "1048576-byte cap; download aborted and nothing kept"
        )
        reg.stopping.wait(0.5)  # let the server notice the hang-up
        assert reg.sent["/token"] < 32 * MIB  # the client stopped reading; it did not drain it


def test_a_token_response_declaring_too_many_bytes_is_refused_before_reading(
    tmp_path: Path,
) -> None:
    with Hostile() as reg:
        serve_registry(reg, token="t0k", realm=reg.url("/token"))
        never = trickle(b"x" * 100, 0.2, reg.stopping)  # the declared body never comes
        reg.routes["/token"] = lambda x: x.answer(200, {"Content-Length": "700000000"}, never)
        started = time.monotonic()
        with pytest.raises(FetchError) as err:
            fetch(
                f"oci://{reg.authority}/{REPO}:v1",
                tmp_path,
                insecure_registries=frozenset({reg.authority}),
                attempts=1,
                timeout=5,
            )
    assert "the token response is 700000000 bytes, over the 1048576-byte cap" in err.value.message
    assert time.monotonic() - started < 3


# --- 9. one overall deadline per pull ------------------------------------------------------


def test_a_trickling_http_source_hits_the_deadline_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GREENTIC_FETCH_DEADLINE", "1.5")
    with Hostile() as dist:
        body = trickle(b"z" * 40, 0.25, dist.stopping)  # ends after ~10 s if nobody stops it
        dist.routes["/slow.gtbundle"] = lambda x: x.answer(200, {}, body)
        url = dist.url("/slow.gtbundle") + "?sig=SECRET-SIGNATURE"
        started = time.monotonic()
        with pytest.raises(FetchError) as err:
            fetch(url, tmp_path, timeout=30)
        elapsed = time.monotonic() - started
    shown = dist.url("/slow.gtbundle") + "?sig=***"
    assert err.value.message == (
        f"fetching {shown}: not finished within the 1.5s overall deadline "
        "(GREENTIC_FETCH_DEADLINE); the source is stalling or too slow"
    )
    assert "SECRET" not in f"{err.value.message} {err.value.hint}"
    assert err.value.hint is not None and "GREENTIC_FETCH_DEADLINE" in err.value.hint
    assert 1.5 <= elapsed < 3.5
    assert list(tmp_path.iterdir()) == []


def test_a_trickling_oci_blob_hits_the_deadline_parameter(tmp_path: Path) -> None:
    with Hostile() as reg:
        serve_registry(reg)
        body = trickle(BUNDLE, 0.25, reg.stopping)
        reg.routes[f"/v2/{REPO}/blobs/{BUNDLE_DIGEST}"] = lambda x: x.answer(200, {}, body)
        uri = f"oci://{reg.authority}/{REPO}:v1"
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"not finished within the 1\.5s overall deadline"):
            fetch(uri, tmp_path, insecure_registries=frozenset({reg.authority}), deadline=1.5)
        assert time.monotonic() - started < 3.5


def test_retries_and_backoff_stop_at_the_deadline(tmp_path: Path) -> None:
    with Hostile() as dist:
        dist.routes["/busy.gtbundle"] = lambda x: x.answer(503, {"Content-Length": "0"}, [])
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"not finished within the 2s overall deadline"):
            fetch(dist.url("/busy.gtbundle"), tmp_path, attempts=50, deadline=2)
        assert time.monotonic() - started < 3.5
        assert 2 <= len(dist.headers_of("/busy.gtbundle")) < 10


# --- 10. credentials go only to the registry's own host (or an allowed realm host) ---------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a cert naming 127.0.0.1 and 127.0.0.2."""
    cert, server = self_signed(
        tmp_path_factory.mktemp("tls"), ("127.0.0.1", "127.0.0.2"), name="hostile test"
    )
    return server, ssl.create_default_context(cafile=str(cert))


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OCI_USERNAME", "bob")
    monkeypatch.setenv("OCI_PASSWORD", "s3cret-pw")
    monkeypatch.delenv("GREENTIC_OCI_TOKEN_REALM_HOSTS", raising=False)
    return "Basic " + base64.b64encode(b"bob:s3cret-pw").decode()


def token_route(x: Exchange) -> None:
    x.answer(200, {"Content-Type": "application/json"}, [b'{"token": "t0k"}'])


def pull(reg: Hostile, dest: Path, client_tls: ssl.SSLContext) -> str:
    got = fetch(
        f"oci://{reg.authority}/{REPO}:v1", dest, transport=httpx.HTTPTransport(verify=client_tls)
    )
    return got.digest


def test_a_token_realm_on_another_host_gets_no_credentials(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
    creds: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server_tls, client_tls = tls
    with Hostile("127.0.0.2", server_tls) as auth, Hostile("127.0.0.1", server_tls) as reg:
        auth.routes["/token"] = token_route
        serve_registry(reg, token="t0k", realm=auth.url("/token"))
        assert pull(reg, tmp_path / "a", client_tls) == BUNDLE_DIGEST  # anonymous token works
        [sent] = auth.headers_of("/token")
        assert "authorization" not in sent

        monkeypatch.setenv("GREENTIC_OCI_TOKEN_REALM_HOSTS", "127.0.0.2")
        assert pull(reg, tmp_path / "b", client_tls) == BUNDLE_DIGEST
        assert auth.headers_of("/token")[-1]["authorization"] == creds


def test_a_realm_on_the_registry_host_gets_credentials_but_not_its_redirect_elsewhere(
    tls: tuple[ssl.SSLContext, ssl.SSLContext], creds: str, tmp_path: Path
) -> None:
    server_tls, client_tls = tls
    with (
        Hostile("127.0.0.2", server_tls) as elsewhere,
        Hostile("127.0.0.1", server_tls) as auth,
        Hostile("127.0.0.1", server_tls) as reg,
    ):
        elsewhere.routes["/token"] = token_route
        auth.routes["/token"] = token_route
        serve_registry(reg, token="t0k", realm=auth.url("/token"))
        assert pull(reg, tmp_path / "a", client_tls) == BUNDLE_DIGEST
        assert auth.headers_of("/token")[-1]["authorization"] == creds  # same host, other port

        moved = {"Location": elsewhere.url("/token"), "Content-Length": "0"}
        auth.routes["/token"] = lambda x: x.answer(302, moved, [])
        assert pull(reg, tmp_path / "b", client_tls) == BUNDLE_DIGEST
        assert auth.headers_of("/token")[-1]["authorization"] == creds
        [followed] = elsewhere.headers_of("/token")
        assert "authorization" not in followed


def test_a_private_registry_behind_a_foreign_realm_names_the_variable(
    tls: tuple[ssl.SSLContext, ssl.SSLContext], creds: str, tmp_path: Path
) -> None:
    server_tls, client_tls = tls
    with Hostile("127.0.0.2", server_tls) as auth, Hostile("127.0.0.1", server_tls) as reg:
        auth.routes["/token"] = lambda x: x.answer(401, {"Content-Length": "0"}, [])
        serve_registry(reg, token="t0k", realm=auth.url("/token"))
        with pytest.raises(FetchError) as err:
            pull(reg, tmp_path, client_tls)
    text = f"{err.value.message} {err.value.hint}"
    assert "401" in err.value.message
    assert "list it in GREENTIC_OCI_TOKEN_REALM_HOSTS" in err.value.message
    assert f"`{auth.authority}`" in err.value.message
    assert "s3cret" not in text and creds not in text
