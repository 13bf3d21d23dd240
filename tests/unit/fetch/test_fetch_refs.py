"""Pure reference parsing: schemes, OCI references, the insecure-registry list, redaction."""

from __future__ import annotations

import pytest

from greentic.errors import FetchError, InvalidArgument
from greentic.fetch._refs import OciRef, dest_name, parse_insecure, parse_oci, redact, scheme_of


@pytest.mark.parametrize(
    ("uri", "scheme"),
    [
        ("/tmp/x.gtbundle", "file"),
        ("rel/x.gtbundle", "file"),
        ("file:///tmp/x", "file"),
        ("http://h/x", "http"),
        ("HTTPS://h/x", "https"),
        ("oci://h/r:t", "oci"),
    ],
)
def test_scheme_of(uri: str, scheme: str) -> None:
    assert scheme_of(uri) == scheme


def test_unknown_scheme_message() -> None:
    with pytest.raises(FetchError) as err:
        scheme_of("ftp://h/x.gtbundle")
    assert err.value.message == (
        "unsupported bundle reference ftp://h/x.gtbundle; expected file://, http(s)://, or oci://"
    )


@pytest.mark.parametrize(
    ("uri", "ref"),
    [
        (
            "oci://127.0.0.1:5000/bundles/e2e:latest",
            OciRef("127.0.0.1:5000", "bundles/e2e", "latest", None),
        ),
        ("oci://ghcr.io/greenticai/demo", OciRef("ghcr.io", "greenticai/demo", "latest", None)),
        (
            "oci://reg.local/a/b@sha256:" + "a" * 64,
            OciRef("reg.local", "a/b", None, "sha256:" + "a" * 64),
        ),
        (
            "oci://reg.local:5000/a:v1@sha256:" + "b" * 64,
            OciRef("reg.local:5000", "a", "v1", "sha256:" + "b" * 64),
        ),
    ],
)
def test_parse_oci(uri: str, ref: OciRef) -> None:
    parsed = parse_oci(uri)
    assert parsed == ref
    assert parsed.reference == (ref.digest or ref.tag)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("oci://", "must look like"),
        ("oci://host-only", "must look like"),
        ("oci://h/Upper:t", "not a valid repository name"),
        ("oci://h/r@sha256:short", "digest must be"),
        ("oci://h/r:bad tag", "not a valid tag"),
        ("oci://user@h/r", "must look like"),
    ],
)
def test_parse_oci_errors(uri: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        parse_oci(uri)


def test_insecure_list_is_trimmed_and_exact() -> None:
    assert parse_insecure(" 127.0.0.1:5000, ,registry.local ,[::1]:5000,") == frozenset(
        {"127.0.0.1:5000", "registry.local", "[::1]:5000"}
    )
    assert parse_insecure(None) == frozenset()


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("http://127.0.0.1:5000", "carries a URL scheme"),
        ("127.0.0.1:5000/bundles", "carries a path"),
        ("user@host", "is not a bare host"),
        ("a b", "is not a bare host"),
    ],
)
def test_insecure_entries_with_scheme_or_path_are_rejected(entry: str, why: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_insecure(f"ok.local,{entry}")
    assert f"insecure registry entry `{entry}` {why}" in err.value.message
    assert "GREENTIC_OCI_INSECURE_REGISTRIES" in err.value.message
    assert "expected a bare `host[:port]` such as `registry.local:5000`" in err.value.message


@pytest.mark.parametrize("uri", ["https://[::1/x.gtbundle", "http://u:pw@[::1/x", "file://[x/y"])
def test_a_malformed_url_is_a_fetch_error_without_its_password(uri: str) -> None:
    with pytest.raises(FetchError) as err:
        scheme_of(uri)
    assert "is not a valid URL" in err.value.message
    assert "pw" not in err.value.message
    assert err.value.hint is not None


def test_redact_and_dest_name() -> None:
    assert redact("https://u:secret@h/x") == "https://***@h/x"
    assert redact("https://h/x") == "https://h/x"
    assert redact("https://u:secret@[::1/x") == "https://***@[::1/x"
    assert redact("https://h/b.gtbundle?token=s3cret&v=2") == "https://h/b.gtbundle?token=***&v=***"
    assert redact("https://u:p@h/x?sig=abc&flag") == "https://***@h/x?sig=***&flag"
    assert "s3cret" not in redact("https://[::1/x?token=s3cret")
    name = dest_name("http://h/a b.gtbundle", "a b.gtbundle")
    assert name.endswith("-a-b.gtbundle") and len(name.split("-")[0]) == 12
    assert dest_name("http://h/", "").endswith("-bundle.gtbundle")
