"""Capped streaming, bounded decoding, redirects, realm-host and deadline rules (no network)."""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator

import httpx
import pytest

from greentic.errors import FetchError, InvalidArgument
from greentic.fetch._deadline import DEFAULT_DEADLINE, Deadline, parse_deadline
from greentic.fetch._refs import parse_realm_hosts, realm_gets_credentials
from greentic.fetch._stream import Inflater, iter_decoded, next_hop, read_capped
from greentic.fetch._types import CHUNK

MIB = 1024 * 1024


def gzip_bomb(mib: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join([*(packer.compress(bytes(MIB)) for _ in range(mib)), packer.flush()])


class RawStream(httpx.SyncByteStream):
    """A response body that arrives in `size`-byte raw pieces and counts what was taken."""

    def __init__(self, data: bytes, size: int = 64 * 1024) -> None:
        self.data, self.size, self.taken = data, size, 0

    def __iter__(self) -> Iterator[bytes]:
        for i in range(0, len(self.data), self.size):
            piece = self.data[i : i + self.size]
            self.taken += len(piece)
            yield piece


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_inflater_decodes_lazily_in_pieces_of_at_most_a_chunk() -> None:
    pieces = Inflater("gzip").feed(gzip_bomb(16))  # one raw chunk, 16 MiB decoded
    first = [next(pieces) for _ in range(3)]
    assert [len(p) for p in first] == [CHUNK] * 3  # nothing more was decoded than taken
    assert all(len(p) <= CHUNK for p in pieces)


def test_a_raw_deflate_body_is_understood() -> None:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw = packer.compress(b"hello " * 1000) + packer.flush()
    assert b"".join(Inflater("deflate").feed(raw)) == b"hello " * 1000


def test_decoding_stops_just_past_the_cap() -> None:
    stream = RawStream(gzip_bomb(16))
    resp = httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=stream)
    seen = 0
    with pytest.raises(FetchError, match="the manifest is larger than the 4194304-byte cap"):
        for piece in iter_decoded(
            resp, cap=4 * MIB, what="w", label="manifest", deadline=Deadline(60, "w")
        ):
            seen += len(piece)
    assert seen <= 4 * MIB
    assert stream.taken <= 64 * 1024  # the first raw piece already holds more than the cap


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    stream = RawStream(b"x" * 100)
    resp = httpx.Response(200, headers={"Content-Length": "5000"}, stream=stream)
    with pytest.raises(FetchError, match="the token response is 5000 bytes, over the 100-byte"):
        read_capped(resp, cap=100, what="w", label="token response", deadline=Deadline(5, "w"))
    assert stream.taken == 0


def test_unknown_encodings_and_corrupt_gzip_are_clear_errors() -> None:
    brotli = httpx.Response(200, headers={"Content-Encoding": "br"}, stream=RawStream(b"x"))
    with pytest.raises(FetchError, match="Content-Encoding `br`, which is not supported"):
        read_capped(brotli, cap=100, what="w", label="manifest", deadline=Deadline(5, "w"))
    bad = httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=RawStream(b"nope"))
    with pytest.raises(FetchError, match="the manifest is not valid gzip data"):
        read_capped(bad, cap=100, what="w", label="manifest", deadline=Deadline(5, "w"))


def test_redirects_drop_authorization_when_the_origin_changes() -> None:
    url = httpx.URL("https://reg.example/v2/x/blobs/sha256:1")
    auth = {"Authorization": "Bearer t", "Accept": "*/*"}
    method, target, headers, keep = next_hop("GET", url, 307, "https://cdn.example/b", auth)
    assert (method, str(target), headers, keep) == (
        "GET",
        "https://cdn.example/b",
        {"Accept": "*/*"},
        True,
    )
    _, target, headers, _ = next_hop("GET", url, 302, "/v2/y", auth)
    assert str(target) == "https://reg.example/v2/y" and headers == auth
    _, _, headers, _ = next_hop("GET", url, 302, "http://reg.example/v2/y", auth)
    assert "Authorization" not in headers  # a scheme change is another origin
    method, _, headers, keep = next_hop(
        "PUT", url, 303, "/done", {"Content-Type": "a", "Content-Length": "3"}
    )
    assert (method, headers, keep) == ("GET", {}, False)
    with pytest.raises(FetchError, match="`file:`"):
        next_hop("GET", url, 302, "file:///etc/passwd", auth)


@pytest.mark.parametrize(
    ("realm", "allowed", "expected"),
    [
        ("https://reg.example/token", frozenset(), True),
        ("https://REG.example:8443/token", frozenset(), True),  # own host, any port
        ("http://reg.example/token", frozenset(), False),  # never over plain HTTP
        ("https://auth.example/token", frozenset(), False),
        ("https://auth.example/token", frozenset({"auth.example"}), True),
        ("https://auth.example:444/t", frozenset({"auth.example:444"}), True),
        ("https://auth.example:445/t", frozenset({"auth.example:444"}), False),
        ("https://reg.example.evil/t", frozenset(), False),
        ("https://[::1]:5001/t", frozenset({"[::1]"}), True),
    ],
)
def test_which_token_realms_get_credentials(
    realm: str, allowed: frozenset[str], expected: bool
) -> None:
    assert realm_gets_credentials(realm, "reg.example:5000", allowed) is expected


def test_realm_hosts_are_bare_hosts() -> None:
    assert parse_realm_hosts(" A.example, b.example:444 ,") == {"a.example", "b.example:444"}
    with pytest.raises(InvalidArgument, match="GREENTIC_OCI_TOKEN_REALM_HOSTS: token realm"):
        parse_realm_hosts("https://auth.example")


def test_the_deadline_setting_is_a_positive_number_of_seconds() -> None:
    assert parse_deadline(None) == parse_deadline(" ") == DEFAULT_DEADLINE
    assert parse_deadline("2.5") == 2.5
    for bad in ("0", "-1", "soon", "inf", "nan"):
        with pytest.raises(InvalidArgument, match=f"GREENTIC_FETCH_DEADLINE=`{bad}` is not"):
            parse_deadline(bad)


def test_the_deadline_cuts_timeouts_and_sleeps_and_then_fails() -> None:
    clock = Clock()
    deadline = Deadline(10, "pulling oci://r/x:v1", clock=clock)
    slept: list[float] = []
    assert deadline.timeout(30) == 10
    clock.now += 8
    assert deadline.timeout(30) == pytest.approx(2)
    deadline.sleep(slept.append)(4)
    assert slept == [pytest.approx(2)]
    deadline.check()
    clock.now += 2
    with pytest.raises(FetchError) as err:
        deadline.check()
    assert err.value.message == (
        "pulling oci://r/x:v1: not finished within the 10s overall deadline "
        "(GREENTIC_FETCH_DEADLINE); the source is stalling or too slow"
    )
    assert Deadline.unbounded("x").remaining() == math.inf
