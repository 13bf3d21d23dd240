"""The harness's pytest plugin, run by pytester in a child pytest: options (and the variables
they set for the harness), marker gating, the fixtures on the host track, the named kind
cluster's life, the local cluster's (`--provider local`, its functions faked in the child's
conftest), and registration through the `pytest11` entry point next to a conftest."""

from __future__ import annotations

import os
import shutil
import stat
import time
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.kube.commands import Completed
from harness.kube.providers import ClusterOptions, provider_for
from harness.testing import ClusterHandle, fixture_bundle_path, load_scenario

REPO = Path(__file__).resolve().parents[3]
PLUGIN = "harness.pytest_plugin"


@pytest.fixture
def child(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A child pytest that imports the harness from this checkout, with no host overrides."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    for name in (
        "GTC_ARTIFACTS", "GTC_KIND_CLUSTER", "GTC_KUBE_CONTEXT", "GTC_IMAGE_REGISTRY",
        "GTC_REQUIRE_DOCKER", "GTC_REQUIRE_KIND", "GTC_CLUSTER_PROVIDER", "GTC_LOCAL_CLUSTER_DIR",
        # under `pytest -n 2` this test runs in an xdist worker: its child is not one
        "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return pytester


def tool_dir(tmp_path: Path, tools: dict[str, str]) -> Path:
    """A PATH directory of fake tools (shell scripts); what they log goes to `calls.log`."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in tools.items():
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def test_the_options_reach_the_harness_through_its_variables(
    child: pytest.Pytester, tmp_path: Path
) -> None:
    child.makepyfile(
        """
        import os

        def test_options(pytestconfig, track, artifacts_dir):
            assert track == "docker" or track == "host"
            assert pytestconfig.getoption("track") == track
            assert os.environ["GTC_ARTIFACTS"] == str(artifacts_dir)
            assert os.environ["GTC_KIND_CLUSTER"] == "gtc-pytest"
            assert pytestconfig.getoption("kube_context") == "ctx-a"
            assert os.environ["GTC_KUBE_CONTEXT"] == "ctx-a"
            assert os.environ["GTC_IMAGE_REGISTRY"] == "reg:5000/ci"
            from harness.kube.clusters import cluster_options

            chosen = cluster_options()
            assert (chosen.kube_context, chosen.image_registry) == ("ctx-a", "reg:5000/ci")
        """
    )
    art = tmp_path / "evidence"
    result = child.runpytest_subprocess(
        "-p", PLUGIN, "--artifacts-dir", str(art), "--keep-cluster", "--kube-context", "ctx-a",
        "--image-registry", "reg:5000/ci",
    )  # fmt: skip
    result.assert_outcomes(passed=1)


def test_an_unknown_track_is_a_usage_error_naming_the_tracks(child: pytest.Pytester) -> None:
    child.makepyfile("def test_nothing():\n    pass\n")
    result = child.runpytest_subprocess("-p", PLUGIN, "--track", "moon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--track*invalid choice*'moon'*host*kind*docker*"])


def test_markers_are_gated_and_required_docker_fails(
    child: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    child.makepyfile(
        """
        import pytest

        @pytest.mark.net
        def test_net(): pass

        @pytest.mark.kind
        def test_kind(): pass

        @pytest.mark.docker
        def test_docker(): pass

        @pytest.mark.slow
        def test_slow(): pass
        """
    )
    monkeypatch.setenv("PATH", str(tool_dir(tmp_path, {})))  # no docker, kind or kubectl
    skipped = child.runpytest_subprocess("-p", PLUGIN, "--strict-markers", "-rs")
    skipped.assert_outcomes(passed=1, skipped=3)
    skipped.stdout.fnmatch_lines(
        ["*net: reaches the internet; run with -m net*", "*run with pytest -m kind*", "*no docker*"]
    )
    monkeypatch.setenv("GTC_REQUIRE_DOCKER", "1")
    failed = child.runpytest_subprocess("-p", PLUGIN, "-m", "docker")
    failed.assert_outcomes(errors=1)  # at set-up, before the test body
    failed.stdout.fnmatch_lines(["*GTC_REQUIRE_DOCKER=1 but no Docker engine answers*"])


def test_gtc_authors_env_store_and_logs_to_the_runs_artifacts(
    child: pytest.Pytester, tmp_path: Path
) -> None:
    child.makepyfile(
        """
        def test_author(gtc, env_store, gtc_run):
            gtc.op("env", "create", "local", "--name", "local")
            assert (env_store / "local" / "environment.json").is_file()
            assert "env create" in (gtc_run.artifacts.dir / "commands.sh").read_text()
        """
    )
    art = tmp_path / "evidence"
    child.runpytest_subprocess("-p", PLUGIN, "--artifacts-dir", str(art)).assert_outcomes(passed=1)
    (run_dir,) = art.iterdir()
    assert run_dir.name.startswith("test-author-host-")
    assert (run_dir / "work" / "store" / "local" / "environment.json").is_file()


def test_a_scenario_the_track_cannot_host_skips_with_the_reason(
    child: pytest.Pytester, tmp_path: Path
) -> None:
    child.makepyfile(
        """
        def test_kind_serve_on_host(scenario):
            scenario("kind-serve", variant="probes")
        """
    )
    result = child.runpytest_subprocess("-p", PLUGIN, "-rs", "--artifacts-dir", str(tmp_path))
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*`kind-serve` needs reconcile*the `host` track lacks*"])


def test_a_docker_track_without_an_engine_skips_the_fixtures(
    child: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    child.makepyfile("def test_run(distributor):\n    raise AssertionError('not reached')\n")
    monkeypatch.setenv("PATH", str(tool_dir(tmp_path, {})))
    result = child.runpytest_subprocess("-p", PLUGIN, "--track", "docker", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*--track docker: no Docker engine answers*"])


FAKE_KIND = """echo "kind $*" >> "{log}"
case "$1 $2" in
  "get clusters") cat "{state}" 2>/dev/null ;;
esac"""


@pytest.mark.parametrize(
    ("existed", "args", "deleted"),
    [
        (False, (), True),  # created during the session: deleted at its end
        (True, (), False),  # found: never ours to delete
        (False, ("--keep-cluster",), False),  # kept for the next run
    ],
)
def test_a_named_cluster_is_deleted_only_when_this_session_created_it(
    child: pytest.Pytester,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    existed: bool,
    args: tuple[str, ...],
    deleted: bool,
) -> None:
    log, state = tmp_path / "calls.log", tmp_path / "clusters"
    if existed:
        state.write_text("shared\n")
    fake = FAKE_KIND.format(log=log, state=state)
    bin_dir = tool_dir(tmp_path, {"kind": fake, "docker": f'echo "docker $*" >> "{log}"'})
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    child.makepyfile(  # the test stands in for a kind fixture creating the named cluster
        f"""
        import os
        from pathlib import Path

        def test_uses_the_cluster():
            assert os.environ["GTC_KIND_CLUSTER"] == "shared"
            Path({str(state)!r}).write_text("shared\\n")
        """
    )
    child.runpytest_subprocess("-p", PLUGIN, "--cluster-name", "shared", *args).assert_outcomes(
        passed=1
    )
    calls = log.read_text().splitlines()
    assert ("kind delete cluster --name shared" in calls) is deleted, calls
    assert ("docker rm -f shared-registry" in calls) is deleted, calls


def test_the_entry_point_and_a_conftest_register_the_plugin_once(
    child: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed copy (entry point) under a conftest naming it too: one registration."""
    entry = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    assert entry["pytest11"] == {PLUGIN: PLUGIN}
    site = tmp_path / "site"
    dist = site / "greentic-0.0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: greentic\nVersion: 0.0.0\n")
    (dist / "entry_points.txt").write_text(f"[pytest11]\n{PLUGIN} = {PLUGIN}\n")
    monkeypatch.setenv("PYTHONPATH", f"{site}{os.pathsep}{REPO}")
    child.makepyfile("def test_fixture(fixture_bundle):\n    fixture_bundle('webchat-bot')\n")
    child.runpytest_subprocess().assert_outcomes(passed=1)  # through the entry point alone
    child.makeconftest(f"pytest_plugins = [{PLUGIN!r}]\n")
    child.runpytest_subprocess().assert_outcomes(passed=1)  # and with the conftest too


def test_fixture_bundle_finds_by_name_and_lists_the_built_ones(tmp_path: Path) -> None:
    (tmp_path / "a.gtbundle").write_bytes(b"x")
    assert fixture_bundle_path("a", root=tmp_path) == tmp_path / "a.gtbundle"
    assert fixture_bundle_path("a.gtbundle", root=tmp_path) == tmp_path / "a.gtbundle"
    with pytest.raises(HarnessError, match=r"no fixture bundle `b` .*\(built: a\)\nHint: build"):
        fixture_bundle_path("b", root=tmp_path)


def test_an_unknown_scenario_names_the_known_ones() -> None:
    assert load_scenario("digest-mismatch").__name__ == "scenarios.digest_mismatch"
    with pytest.raises(HarnessError, match=r"no scenario `nope` \(known: .*host-pull"):
        load_scenario("nope")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Completed:
        self.calls.append(list(argv))
        return Completed(tuple(argv), 1 if "fail" in argv else 0, "out", "boom")


def test_an_existing_clusters_handle_runs_kubectl_on_its_context() -> None:
    runner = Recorder()
    options = ClusterOptions(kube_context="prod-like", image_registry="reg.example:5000/t")
    handle = ClusterHandle(provider_for(options, runner=runner), runner)
    assert handle.context == "prod-like"
    assert handle.kubectl("get", "nodes").stdout == "out"
    assert runner.calls[-1][-3:] == ["prod-like", "get", "nodes"]
    assert handle.kubectl("fail", check=False).returncode == 1
    with pytest.raises(HarnessError, match=r"failed .*boom"):
        handle.kubectl("fail")
    assert handle.load_image("greentic-runtime:1").startswith("reg.example:5000/t/")


def test_an_unreachable_kube_context_fails_cluster_tests_in_seconds_with_one_line(
    child: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acceptance (issue #14): `pytest -m kind --kube-context X` with this machine's kubectl
    (no kind needed) — each cluster test errors at set-up with the one line, none runs."""
    if shutil.which("kubectl") is None:
        pytest.skip("needs kubectl on PATH")
    config = tmp_path / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\n"
        'clusters: [{name: x, cluster: {server: "https://127.0.0.1:9"}}]\n'
        "users: [{name: x, user: {token: t}}]\n"
        "contexts: [{name: bogus, context: {cluster: x, user: x}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(config))
    bin_dir = tool_dir(tmp_path, {"kind": "echo kind must not run >&2; exit 3"})
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    child.makepyfile(
        """
        import pytest

        @pytest.mark.kind
        def test_one(scenario):
            raise AssertionError("not reached")

        @pytest.mark.kind
        def test_two():
            raise AssertionError("not reached")
        """
    )
    started = time.monotonic()
    result = child.runpytest_subprocess(
        "-p", PLUGIN, "-m", "kind", "--kube-context", "bogus", "--track", "kind"
    )  # fmt: skip
    assert time.monotonic() - started < 30
    result.assert_outcomes(errors=2)
    line = (
        "kube context `bogus` is not reachable: *127.0.0.1:9* — check "
        "`kubectl --context bogus cluster-info`, or pass another --kube-context"
    )
    result.stdout.fnmatch_lines([line, line])
    assert "not reached" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


# -- --provider local: the controller starts it (once), workers adopt ----------------------

FAKE_LOCAL_CONFTEST = """
import os
from pathlib import Path

from harness.errors import HarnessError
from harness.kube.local import cluster

STATE = Path(os.environ["FAKE_LOCAL_STATE"])


def _log(what):
    with open(os.environ["FAKE_LOCAL_LOG"], "a") as log:
        log.write(f"{what} {os.environ.get('PYTEST_XDIST_WORKER', 'controller')}\\n")


def _cluster():
    root = STATE.parent
    return cluster.LocalCluster(
        root, root / "kubeconfig", cluster.CONTEXT, "https://10.250.0.1:6443",
        str(root / "containerd.sock"), 4242, "v1.33.13", root / "logs",
    )


def running(directory=None):
    return _cluster() if STATE.exists() else None


def start(directory=None, *, version=None, out=print):
    _log("start")
    if os.environ.get("FAKE_LOCAL_FAIL"):
        raise HarnessError("go is not on PATH\\nHint: install Go")
    STATE.write_text("up")
    out("fake local cluster started")
    return _cluster()


def stop(directory=None, *, out=print):
    _log("stop")
    STATE.unlink(missing_ok=True)
    return []


cluster.running, cluster.start, cluster.stop = running, start, stop
"""

LOCAL_TESTS = """
import os

import pytest


@pytest.mark.kind
def test_one(cluster):
    assert os.environ["GTC_CLUSTER_PROVIDER"] == "local"
    assert (cluster.context, cluster.provider.provider) == ("greentic-local", "local")


@pytest.mark.kind
def test_two(cluster):
    assert cluster.provider.keep  # adopted: never this process's to stop
"""


@pytest.fixture
def local_child(
    child: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[pytest.Pytester, Path, Path]:
    """A child pytest whose local cluster is a state file, with a kubectl that answers and
    a kind that must never run; returns (child, state file, calls log)."""
    state, log = tmp_path / "local" / "state", tmp_path / "calls.log"
    state.parent.mkdir()
    kubectl = f'echo "kubectl $*" >> "{log}"; echo \'{{"serverVersion": {{}}}}\''
    bin_dir = tool_dir(tmp_path, {"kubectl": kubectl, "kind": "echo kind must not run >&2; exit 3"})
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOCAL_STATE", str(state))
    monkeypatch.setenv("FAKE_LOCAL_LOG", str(log))
    monkeypatch.setenv("GTC_LOCAL_CLUSTER_DIR", str(state.parent))
    child.makeconftest(FAKE_LOCAL_CONFTEST)
    child.makepyfile(LOCAL_TESTS)
    return child, state, log


def lifecycle(log: Path) -> list[str]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [line for line in lines if not line.startswith("kubectl")]


@pytest.mark.parametrize("workers", [(), ("-n", "2")])
def test_the_controller_starts_the_local_cluster_once_and_stops_what_it_started(
    local_child: tuple[pytest.Pytester, Path, Path], workers: tuple[str, ...]
) -> None:
    child, state, log = local_child
    result = child.runpytest_subprocess("-p", PLUGIN, "-m", "kind", "--provider", "local", *workers)
    result.assert_outcomes(passed=2)
    assert lifecycle(log) == ["start controller", "stop controller"]  # never a worker's
    assert not state.exists()
    assert "kind must not run" not in result.stdout.str() + result.stderr.str()


def test_a_running_local_cluster_is_adopted_by_every_worker_and_left_running(
    local_child: tuple[pytest.Pytester, Path, Path],
) -> None:
    child, state, log = local_child
    state.write_text("up")  # `python demo.py cluster-up --provider local` (or .ci/run) ran
    result = child.runpytest_subprocess(
        "-p", PLUGIN, "-m", "kind", "--provider", "local", "-n", "2"
    )
    result.assert_outcomes(passed=2)
    assert lifecycle(log) == [] and state.exists()
    assert any(
        "delete namespace -l greentic.test/run=" in line for line in log.read_text().splitlines()
    )


def test_without_cluster_tests_the_local_cluster_is_not_started(
    local_child: tuple[pytest.Pytester, Path, Path],
) -> None:
    child, _, log = local_child
    child.runpytest_subprocess("-p", PLUGIN, "--provider", "local").assert_outcomes(skipped=2)
    assert lifecycle(log) == []


@pytest.mark.parametrize(
    ("workers", "line"),
    [
        ((), "the local cluster did not start: go is not on PATH — next: "
         "`python demo.py cluster-up --provider local` shows its output"),
        (("-n", "2"), "no local cluster is running in * — start it with "
         "`python demo.py cluster-up --provider local`"),
    ],
)  # fmt: skip
def test_a_local_cluster_that_cannot_start_fails_each_cluster_test_in_one_line(
    local_child: tuple[pytest.Pytester, Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    workers: tuple[str, ...],
    line: str,
) -> None:
    child, _, log = local_child
    monkeypatch.setenv("FAKE_LOCAL_FAIL", "1")
    result = child.runpytest_subprocess("-p", PLUGIN, "-m", "kind", "--provider", "local", *workers)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines([f"*{line}*", f"*{line}*"])
    assert lifecycle(log) == ["start controller"]  # tried once, by the controller; no stop
    assert "Traceback" not in result.stdout.str()
