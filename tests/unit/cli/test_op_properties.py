"""Property: no payload, however malformed, gets past the CLI as anything but one JSON line.

Against an empty store every verb below must fail (exit 1, one error envelope on stderr,
nothing on stdout); `env apply` on random manifests may even succeed, but never raises.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from greentic.cli.main import gtc
from greentic.errors import KINDS

from .oprunner import ENV_PAYLOAD_VERBS

VERBS = [*ENV_PAYLOAD_VERBS, ("env", "show")]
FIELDS = [
    "environment_id",
    "bundle_id",
    "customer_id",
    "route_binding",
    "route_binding.hosts",
    "deployment_id",
    "revision_id",
    "bundle_path",
    "bundle_source_uri",
    "bundle_digest",
    "entries",
    "slot",
    "kind",
    "pack_ref",
    "answers_ref",
    "path",
    "name",
    "provider_type",
    "endpoint_id",
    "idempotency_key",
    "weight_bps",
]
values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "..",
            "local",
            "[]",
            "{}",
            '["/"]',
            "[1,",
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "sha256:00",
            "10000",
            "100%",
            "-1",
            "null",
            '"x"',
            "oci://h/r:t",
        ]
    ),
)
pairs = st.lists(
    st.tuples(st.one_of(st.sampled_from(FIELDS), st.text(min_size=1, max_size=12)), values).map(
        lambda kv: f"{kv[0]}={kv[1]}"
    ),
    max_size=5,
)
words = st.lists(
    st.one_of(values, st.sampled_from(["--env", "--bogus", "-x", "--from-env"])), max_size=3
)
answers_docs = st.one_of(
    st.text(max_size=200),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(
                st.sampled_from([*FIELDS, "schema", "environment", "x"]), inner, max_size=4
            ),
        ),
        max_leaves=12,
    ).map(json.dumps),
)


def run(args: list[str], *, stdin: str | None = None) -> tuple[int, str, str]:
    r = CliRunner().invoke(gtc, args, input=stdin, catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def assert_one_error_line(code: int, out: str, err: str) -> None:
    assert code == 1, (code, out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    doc = json.loads(lines[0])
    assert set(doc) == {"op", "noun", "error"}
    assert doc["error"]["kind"] in KINDS
    assert "Traceback" not in err


SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(verb=st.sampled_from(VERBS), inline=pairs, extra=words)
def test_inline_payloads_never_escape(
    verb: tuple[str, ...], inline: list[str], extra: list[str], operator_key: Path
) -> None:
    assume(not {"-h", "--help"} & set(extra))  # help is a legitimate exit 0
    with tempfile.TemporaryDirectory() as root:
        code, out, err = run(["op", "--store-root", root, *verb, *inline, *extra], stdin="")
        assert_one_error_line(code, out, err)


@SETTINGS
@given(
    verb=st.sampled_from(VERBS),
    doc=answers_docs,
    suffix=st.sampled_from([".json", ".yaml", ".txt"]),
)
def test_answers_files_never_escape(
    verb: tuple[str, ...], doc: str, suffix: str, operator_key: Path
) -> None:
    with tempfile.TemporaryDirectory() as root:
        answers = Path(root) / f"answers{suffix}"
        answers.write_text(doc)
        store = Path(root) / "store"
        code, out, err = run(
            ["op", "--store-root", str(store), "--answers", str(answers), *verb], stdin=""
        )
        assert_one_error_line(code, out, err)


@SETTINGS
@given(doc=answers_docs)
def test_random_manifests_never_raise(doc: str, operator_key: Path) -> None:
    with tempfile.TemporaryDirectory() as root:
        manifest = Path(root) / "m.json"
        manifest.write_text(doc)
        code, out, err = run(
            ["op", "--store-root", f"{root}/s", "--answers", str(manifest), "env", "apply", "--yes"]
        )
        if code != 0:
            assert_one_error_line(code, out, err)
        else:
            assert len(out.splitlines()) == 1
