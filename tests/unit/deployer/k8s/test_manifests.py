from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from greentic.deployer.k8s import manifests, render
from greentic.deployer.k8s.answers import K8sAnswers
from greentic.errors import InvalidArgument
from greentic.spec.environment import Environment

from . import envs


def test_file_names_in_apply_order(webchat: Environment) -> None:
    objs = render.objects(webchat, K8sAnswers(), dev_store=b"x")
    got = manifests.file_names(objs)
    assert got[:3] == [
        "00-namespace-gtc-local.yaml",
        "01-configmap-gtc-env-store.yaml",
        "02-configmap-gtc-runtime-config.yaml",
    ]
    assert got[12] == "12-secret-gtc-dev-secrets.yaml"
    assert got == sorted(got)


def test_index_width_grows() -> None:
    objs = render.objects(envs.m2_env(revisions=60), K8sAnswers(), dev_store=None)
    got = manifests.file_names(objs)
    assert len(objs) == 132 and got[0].startswith("000-") and got == sorted(got)


def test_write_dir_round_trips(tmp_path: Path, webchat: Environment) -> None:
    objs = render.objects(webchat, K8sAnswers(), dev_store=b"x")
    out = tmp_path / "out"
    paths = manifests.write_dir(objs, out)
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in paths]
    assert [yaml.safe_load(p.read_text()) for p in paths] == objs
    secret = out / "12-secret-gtc-dev-secrets.yaml"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert (out / "00-namespace-gtc-local.yaml").stat().st_mode & 0o777 == 0o644


def test_rewrite_drops_files_of_pruned_revisions(tmp_path: Path, m2: Environment) -> None:
    out = tmp_path / "out"
    manifests.write_dir(render.objects(m2, K8sAnswers(), dev_store=None), out)
    assert len(os.listdir(out)) == 14
    manifests.write_dir(render.objects(envs.archived(m2), K8sAnswers(), dev_store=None), out)
    assert len(os.listdir(out)) == 12
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no staging leftovers


def test_refuses_a_directory_with_foreign_files(tmp_path: Path, m2: Environment) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "kustomization.yaml").write_text("resources: []\n")
    with pytest.raises(InvalidArgument, match=r"kustomization\.yaml"):
        manifests.write_dir(render.objects(m2, K8sAnswers(), dev_store=None), out)
    assert os.listdir(out) == ["kustomization.yaml"]


def test_refuses_a_file(tmp_path: Path, m2: Environment) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(InvalidArgument, match="is a file"):
        manifests.write_dir(render.objects(m2, K8sAnswers(), dev_store=None), target)


def test_yaml_quotes_ambiguous_scalars(m2: Environment) -> None:
    from greentic.deployer.k8s import answers

    objs = render.objects(m2, answers.parse({"tunnel": "cloudflared"}), dev_store=None)
    text = manifests.dump(objs[12])
    assert "- 'on'" in text and "value: '4'" in text
    assert yaml.safe_load(text) == objs[12]


def test_libyaml_and_pure_python_emit_the_same_bytes(webchat: Environment) -> None:
    from greentic.deployer.k8s import answers

    class Pure(yaml.SafeDumper):
        def ignore_aliases(self, data: object) -> bool:
            return True

    Pure.add_representer(str, manifests._str)
    objs = render.objects(webchat, answers.parse({"tunnel": "cloudflared"}), dev_store=b"x" * 3000)
    pure = "".join(
        "---\n"
        + yaml.dump(o, Dumper=Pure, sort_keys=False, default_flow_style=False, allow_unicode=True)
        for o in objs
    )
    assert manifests.dump_all(objs) == pure
    assert list(yaml.safe_load_all(pure)) == objs
    assert "environment.json: |\n" in pure
