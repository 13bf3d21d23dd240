"""The GitHub workflows validate against the workflow schema (check-jsonschema's built-in copy,
offline) and keep their promises: pinned actions, the pinned kind binary and node image equal to
harness/kind.py's, `pytest -m kind -n 2`, every artifact uploaded, `kind export logs` on any
failure, `kind load` guarded."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.kube import kind

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
CI, KIND = WORKFLOWS / "ci.yml", WORKFLOWS / "kind.yml"


def check_jsonschema() -> str:
    found = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    return (
        found or shutil.which("check-jsonschema") or pytest.fail("check-jsonschema not installed")
    )


def load(path: Path) -> dict[Any, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict)
    return doc


def steps(doc: dict[Any, Any]) -> list[dict[str, Any]]:
    return [s for job in doc["jobs"].values() for s in job["steps"]]


def runs(doc: dict[Any, Any]) -> str:
    return "\n".join(s.get("run", "") for s in steps(doc))


@pytest.mark.parametrize("path", [CI, KIND], ids=lambda p: p.name)
def test_workflow_validates_against_the_github_schema(path: Path) -> None:
    proc = subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_broken_workflow_is_rejected(tmp_path: Path) -> None:
    """The validation above can fail: a job without runs-on is not a workflow."""
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\non: [push]\njobs:\n  a:\n    steps:\n      - run: true\n")
    proc = subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0


@pytest.mark.parametrize("path", [CI, KIND], ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha(path: Path) -> None:
    uses = [s["uses"] for s in steps(load(path)) if "uses" in s]
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref


def test_ci_runs_lint_types_unit_host_and_docker_tracks_on_python_311() -> None:
    doc = load(CI)
    assert doc["env"]["PYTHON_VERSION"] == "3.11"
    text = runs(doc)
    for command in ("ruff check .", "ruff format --check .", "lint-imports", "mypy greentic"):
        assert command in text
    assert 'pytest -n 2 -q -m "not docker"' in text
    docker = doc["jobs"]["docker-track"]
    assert docker["env"]["GTC_REQUIRE_DOCKER"] == "1"
    assert "pytest -n 2 -q -m docker" in runs({"jobs": {"d": docker}})


def test_kind_workflow_pins_exactly_what_the_harness_pins() -> None:
    env = load(KIND)["env"]
    assert env["KIND_VERSION"] == kind.KIND_VERSION
    assert env["KIND_SHA256"] == kind.KIND_SHA256["linux-amd64"]
    assert env["KIND_NODE_IMAGE"] == kind.NODE_IMAGE
    text = runs(load(KIND))
    assert 'echo "${KIND_SHA256}  $RUNNER_TEMP/kind" | sha256sum -c -' in text
    assert "releases/download/${KIND_VERSION}/kind-linux-amd64" in text


def test_kind_workflow_runs_the_kind_marker_in_parallel_and_uploads_every_artifact() -> None:
    doc = load(KIND)
    job = doc["jobs"]["kind-track"]
    assert job["env"]["GTC_REQUIRE_KIND"] == "1"
    assert job["env"]["GTC_ARTIFACTS"] == "${{ github.workspace }}/artifacts"
    assert "python -m pytest -m kind -n 2" in runs(doc)
    uploads = [s for s in steps(doc) if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert len(uploads) == 1
    assert uploads[0]["if"] == "always()"  # passing runs' evidence too
    assert uploads[0]["with"]["path"] == "artifacts/"


def test_kind_workflow_exports_node_logs_on_any_failure_before_upload_and_cleanup() -> None:
    names = [s.get("name", "") for s in steps(load(KIND))]
    export = next(s for s in steps(load(KIND)) if s.get("name", "").startswith("kind export"))
    assert export["if"] == "failure()"
    assert 'kind export logs "artifacts/kind-export-logs/$c" --name "$c"' in export["run"]
    assert "kind get clusters" in export["run"]
    at = names.index(export["name"])
    assert at < next(i for i, n in enumerate(names) if n.startswith("upload artifacts"))
    assert at < names.index("delete leftover clusters")


def test_kind_workflow_guards_kind_load_against_the_containerd_image_store() -> None:
    guard = next(s for s in steps(load(KIND)) if s.get("name", "").startswith("guard kind load"))
    assert '"containerd-snapshotter": false' in guard["run"]
    names = [s.get("name", "") for s in steps(load(KIND))]
    assert names.index(guard["name"]) < names.index("kind track")
