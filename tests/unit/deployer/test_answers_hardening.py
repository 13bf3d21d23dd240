"""Issue #12 items 11–12: answers files are bounded, unambiguous, confined and checked.

A FIFO, /dev/zero or a directory is refused without blocking; a file past 1 MiB is refused;
YAML alias bombs and recursive aliases are refused; a duplicate key is refused by name (JSON
and YAML); `answers_ref`/`bundle_path` in a manifest stay inside its directory unless
`allow_outside`; k8s deployer answers are checked before anything is staged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from greentic.deployer import env, env_packs
from greentic.deployer.answers_file import load_mapping
from greentic.deployer.apply import apply
from greentic.deployer.k8s.errors import InvalidAnswers
from greentic.errors import AnswersParseError, InvalidArgument, IoError
from greentic.store.envstore import Store
from tests.support.seeds import seed_manifest, write_declarative

MAX_BYTES = 1024 * 1024  # the documented cap (1 MiB)
BOMB = "\n".join(
    ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    + [
        f"{n}: &{n} [{','.join([f'*{p}'] * 10)}]"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)


@pytest.fixture(autouse=True)
def _key(operator_key: Path) -> None:
    return None


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_DEMO_BOT_TOKEN", "tg-token")


# -- item 12: what a file may hold ------------------------------------------------------
@pytest.mark.timeout(10)
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "answers.yaml"
    os.mkfifo(fifo)
    with pytest.raises(AnswersParseError, match=r"answers\.yaml is a FIFO .*not a regular file"):
        load_mapping(fifo)


CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from pathlib import Path
from greentic.deployer.answers_file import load_mapping
from greentic.errors import GreenticError
try:
    load_mapping(Path(sys.argv[1]))
except GreenticError as exc:
    print(exc.kind, exc.message)
"""


def _load_in_a_bounded_child(path: Path) -> str:
    """load_mapping in a child capped at 1 GiB and 20 s: without the fix /dev/zero would eat
    the machine's memory, so even the failing run stays bounded."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    return done.stdout + done.stderr


@pytest.mark.timeout(30)
def test_dev_zero_and_a_directory_are_refused(tmp_path: Path) -> None:
    out = _load_in_a_bounded_child(Path("/dev/zero"))
    assert out.startswith("answers-parse answers file /dev/zero is a device file"), out
    with pytest.raises(AnswersParseError, match="is a directory, not a regular file"):
        load_mapping(tmp_path)


@pytest.mark.timeout(20)
def test_a_file_past_the_size_cap_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text('{"pad": "' + "x" * MAX_BYTES + '"}')
    with pytest.raises(AnswersParseError, match=f"over the {MAX_BYTES}-byte size cap"):
        load_mapping(big)


@pytest.mark.timeout(20)
def test_a_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB + "\n")
    with pytest.raises(AnswersParseError, match="alias bomb"):
        load_mapping(bomb)


def test_recursive_and_too_many_aliases_are_refused(tmp_path: Path) -> None:
    rec = tmp_path / "rec.yaml"
    rec.write_text("a: &a [*a]\n")
    with pytest.raises(AnswersParseError, match="recursive alias"):
        load_mapping(rec)
    many = tmp_path / "many.yaml"
    many.write_text("a: &a 1\nb: [" + ", ".join(["*a"] * 101) + "]\n")
    with pytest.raises(AnswersParseError, match="more than 100 aliases"):
        load_mapping(many)


def test_merge_keys_and_a_few_aliases_still_load(tmp_path: Path) -> None:
    doc = tmp_path / "ok.yaml"
    doc.write_text("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  x: 5\nl: [*b, *b]\n")
    assert load_mapping(doc)["m"] == {"x": 5, "y": 2}


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("dup.json", '{"runtime_image": "a", "tunnel": "off", "runtime_image": "b"}', ""),
        ("dup.yaml", "runtime_image: a\ntunnel: 'off'\nruntime_image: b\n", " at line 3"),
        ("nested.yaml", "outer:\n  k: 1\n  k: 2\n", " at line 3"),
        ("dup.answers", '{"runtime_image": "a", "runtime_image": "b"}', ""),
    ],
)
def test_a_duplicate_key_is_refused_by_name(
    tmp_path: Path, name: str, text: str, where: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(AnswersParseError) as info:
        load_mapping(path)
    assert f"{where}" in info.value.message
    assert "duplicate key `runtime_image`" in info.value.message or "`k`" in info.value.message


def test_deep_nesting_is_one_clear_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(AnswersParseError, match="nested too deeply"):
        load_mapping(deep)


# -- item 11: where a manifest's files may live ------------------------------------------
def _manifest_with_answers_ref(tmp_path: Path, ref: str) -> Path:
    doc = seed_manifest()
    doc["packs"][0]["answers_ref"] = ref
    return write_declarative(tmp_path, doc)


def _secret_outside(tmp_path: Path) -> Path:
    creds = tmp_path / "credentials.yaml"
    creds.write_text("aws_secret_access_key: do-not-copy\n")
    creds.chmod(0o600)
    return creds


@pytest.mark.parametrize("form", ["relative", "absolute", "symlink"])
def test_answers_ref_outside_the_manifest_dir_is_refused(
    store_root: Path, tmp_path: Path, token: None, form: str
) -> None:
    creds = _secret_outside(tmp_path)
    ref = {"relative": "../credentials.yaml", "absolute": str(creds), "symlink": "link.yaml"}
    manifest = _manifest_with_answers_ref(tmp_path, ref[form])
    if form == "symlink":
        (manifest.parent / "link.yaml").symlink_to(creds)
    with pytest.raises(InvalidArgument) as info:
        apply(Store(store_root), manifest, yes=True)
    assert f"resolves to {creds}" in info.value.message
    assert "--allow-outside" in (info.value.hint or "")
    assert not any(b"do-not-copy" in f.read_bytes() for f in store_root.rglob("*") if f.is_file())


def test_allow_outside_reads_it_but_the_schema_still_decides(
    store_root: Path, tmp_path: Path, token: None
) -> None:
    _secret_outside(tmp_path)
    manifest = _manifest_with_answers_ref(tmp_path, "../credentials.yaml")
    with pytest.raises(InvalidAnswers, match="unknown answer key `aws_secret_access_key`"):
        apply(Store(store_root), manifest, yes=True, allow_outside=True)
    assert not (store_root / "local" / "env-packs").exists()
    (tmp_path / "credentials.yaml").write_text(json.dumps({"tunnel": "off"}))
    apply(Store(store_root), manifest, yes=True, allow_outside=True)
    staged = store_root / "local" / "env-packs" / "deployer" / "answers.json"
    assert json.loads(staged.read_text()) == {"tunnel": "off"}


def test_bundle_path_outside_the_manifest_dir_is_refused(
    store_root: Path, tmp_path: Path, token: None
) -> None:
    doc = seed_manifest()
    doc["bundles"][0].update(bundle_path="../elsewhere.gtbundle", bundle_source_uri=None)
    (tmp_path / "elsewhere.gtbundle").write_bytes(b"not really")
    with pytest.raises(InvalidArgument, match=r"bundle `webchat-bot`: bundle_path"):
        apply(Store(store_root), write_declarative(tmp_path, doc), yes=True)


def test_env_packs_payload_answers_ref_is_confined_to_the_payload_dir(
    store_root: Path, tmp_path: Path
) -> None:
    store = Store(store_root)
    env.init(store, env.EnvInitPayload())
    (tmp_path / "other-answers.json").write_text(json.dumps({"tunnel": "off"}))
    payload_dir = tmp_path / "cfg"
    payload_dir.mkdir()
    p = env_packs.EnvPackAddPayload(
        environment_id="local",
        slot="deployer",
        kind="greentic.deployer.k8s@1.0.0",
        pack_ref="builtin",
        answers_ref="../other-answers.json",
    )
    with pytest.raises(InvalidArgument, match="outside the directory") as info:
        env_packs.bind(store, p, base_dir=payload_dir)
    assert "gtc op env-packs add" in (info.value.hint or "")
    assert env_packs.bind(store, p, base_dir=payload_dir, allow_outside=True)["changed"]


@pytest.mark.timeout(10)
def test_a_fifo_answers_ref_is_refused_by_apply(
    store_root: Path, tmp_path: Path, token: None
) -> None:
    manifest = _manifest_with_answers_ref(tmp_path, "pipe.json")
    os.mkfifo(manifest.parent / "pipe.json")
    with pytest.raises(AnswersParseError, match="FIFO"):
        apply(Store(store_root), manifest, yes=True)


def test_missing_answers_file_is_still_an_io_error(tmp_path: Path) -> None:
    with pytest.raises(IoError, match="no such file"):
        load_mapping(tmp_path / "nope.json")
