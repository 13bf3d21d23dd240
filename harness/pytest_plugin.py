"""The pytest plugin for test authors: options, markers, gating and the harness's fixtures.

Registered by the repository's top-level `conftest.py` (`pytest_plugins`) and, for projects
that install this one, by the `pytest11` entry point `harness.pytest_plugin` (the same name,
so both at once register it once). Options: `--track`, `--provider`, `--kube-context`,
`--image-registry`, `--cluster-name`, `--keep-cluster` (pytest-kind's), `--artifacts-dir`; each
is exported as a `GTC_*` variable (`OPTION_ENV`), so scenario runs and xdist workers use the
same cluster. With `--kube-context` a cluster test fails at set-up, in seconds, with one line
when the context does not answer. With `--provider local` the controller (never an xdist
worker) starts the local cluster when it is not running and a cluster test is selected, and
stops it at the end only if it started it; workers adopt it. Each test is one run
with its own run id, artifacts and store (`harness.testing.open_run`), so the fixtures are the
track backends the scenarios use. Markers `docker`, `kind`, `net`, `slow` are gated here
(GTC_REQUIRE_DOCKER=1 / GTC_REQUIRE_KIND=1 turn a missing engine or kind into a failure).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import tracks
from harness.context import ScenarioContext, ScenarioResult
from harness.kube import gate
from harness.kube.clusters import CLUSTER_ENV, CONTEXT_ENV, PROVIDER_ENV, REGISTRY_ENV
from harness.kube.providers import KEPT_CLUSTER, PROVIDERS, ClusterOptions, kind_cluster_name
from harness.op import Gtc, operator_env
from harness.testing import (
    BundleServer,
    ClusterHandle,
    OciSource,
    close_run,
    fixture_bundle_path,
    load_scenario,
    open_run,
)

MARKERS = {
    "docker": "needs a running Docker engine (GTC_REQUIRE_DOCKER=1 makes a missing engine fail)",
    "kind": "needs a cluster (kind + docker + kubectl, or --provider/--kube-context); runs "
    "the cluster track (pytest -m kind)",
    "local_cluster": "starts and stops the local Kubernetes (#15; root, containerd, ~1 min "
    "warm); run with -m local_cluster while no local cluster is up",
    "net": "reaches the real internet (real Telegram / cloudflared); never in CI",
    "slow": "takes more than a few seconds",
}
DEFAULT_TRACK = "host"
# options the harness reads from the environment (so scenario runs, subprocesses and xdist
# workers see them too): option dest → variable. harness.kube.clusters.cluster_options reads
# the cluster ones (the one place they become ClusterOptions).
OPTION_ENV = {
    "artifacts_dir": "GTC_ARTIFACTS",  # harness.artifacts.default_root
    "provider": PROVIDER_ENV,  # kind | existing | local
    "cluster_name": CLUSTER_ENV,  # a named kind cluster (also what --keep-cluster keeps)
    "kube_context": CONTEXT_ENV,  # the `existing` provider on this context
    "image_registry": REGISTRY_ENV,  # where that provider pushes the images
}
_PREEXISTING = pytest.StashKey[bool]()  # did the named cluster exist before this session?
_UNREACHABLE = pytest.StashKey[str]()  # the cluster's one-line failure ("" = usable)
_STARTED_LOCAL = pytest.StashKey[bool]()  # did this (controller) process start the local cluster?


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("greentic", "Greentic harness")
    group.addoption(
        "--track",
        default=DEFAULT_TRACK,
        choices=list(tracks.TRACKS),
        help="where the `scenario`, `worker`, `distributor`, `oci_registry` fixtures run "
        "(default: host)",
    )
    group.addoption(
        "--provider",
        choices=list(PROVIDERS),
        help="the cluster track's cluster: kind (default), existing (--kube-context) or local "
        "(this machine's; started unless running — `python demo.py cluster-up --provider local`)",
    )
    group.addoption(
        "--kube-context",
        metavar="CTX",
        help="run against this existing cluster (kubeconfig context) instead of creating one",
    )
    group.addoption(
        "--image-registry",
        metavar="HOST[/PREFIX]",
        help="with --kube-context: where the harness pushes the images the cluster pulls",
    )
    group.addoption(
        "--cluster-name",
        metavar="NAME",
        help="the kind cluster to use, created when missing and shared by xdist workers "
        "(deleted at the end unless --keep-cluster or it existed before)",
    )
    group.addoption(
        "--keep-cluster",
        action="store_true",
        help=f"keep the kind cluster after the session for the next run to reuse (a kept "
        f"cluster always has a name: --cluster-name, else `{KEPT_CLUSTER}`)",
    )
    group.addoption(
        "--artifacts-dir",
        metavar="DIR",
        help="where each run's evidence goes (default: $GTC_ARTIFACTS, else ./artifacts)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
    chosen = ClusterOptions(
        cluster_name=config.getoption("cluster_name"), keep_cluster=config.getoption("keep_cluster")
    )
    config.option.cluster_name = kind_cluster_name(chosen)  # the providers' one naming rule
    for dest, variable in OPTION_ENV.items():
        value = config.getoption(dest)
        if value:
            os.environ[variable] = str(Path(value).resolve()) if dest.endswith("_dir") else value
    name = config.getoption("cluster_name")
    if name and not hasattr(config, "workerinput"):  # the xdist controller or a plain run
        config.stash[_PREEXISTING] = name in kind_clusters()


def pytest_sessionstart(session: pytest.Session) -> None:
    """`--provider local`: the controller (a plain run, or xdist's before it spawns workers)
    starts the local cluster when a cluster test is selected and none runs; a failure becomes
    every cluster test's one line. Workers only adopt (`unreachable`)."""
    config = session.config
    if config.getoption("provider") != "local" or hasattr(config, "workerinput"):
        return
    if gate.wants_cluster(config.getoption("-m") or "", config.getoption("track")):
        done = gate.start_local(_say(config))
        config.stash[_STARTED_LOCAL] = done.started
        if done.failure:
            config.stash[_UNREACHABLE] = done.failure


def _say(config: pytest.Config) -> Callable[[str], None]:
    """A line to the terminal (pytest's reporter when there is one)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        return lambda line: reporter.write_line(line)
    return lambda line: print(line, file=sys.stderr)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the local cluster this session started; delete the named kind cluster this session
    created (not a kept one, not one found)."""
    if config.stash.get(_STARTED_LOCAL, False):
        gate.stop_local(_say(config))
    name = config.getoption("cluster_name")
    created_here = config.stash.get(_PREEXISTING, True) is False
    if name and created_here and not config.getoption("keep_cluster") and name in kind_clusters():
        from harness.kube.clusters import kept_cluster
        from harness.kube.commands import SubprocessRunner

        kept_cluster(name, registry_image="", runner=SubprocessRunner()).delete()


def kind_clusters() -> list[str]:
    """`kind get clusters` (empty when kind is missing or fails)."""
    if shutil.which("kind") is None:
        return []
    try:
        done = subprocess.run(
            ["kind", "get", "clusters"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return done.stdout.split() if done.returncode == 0 else []


def docker_available() -> bool:
    """True when a Docker engine answers (`docker info`)."""
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def kind_available(kube_context: str | None = None, provider: str | None = None) -> bool:
    """Every tool the selected cluster needs is on PATH (kubectl; kind for a kind cluster)."""
    return gate.tools_available(kube_context, provider)


def unreachable(config: pytest.Config) -> str:
    """The selected cluster's one-line failure, else "" (checked once per session, before the
    first cluster test builds anything): an unreachable `--kube-context`; `--provider local`
    with no local cluster running, or the controller's failed start."""
    if _UNREACHABLE not in config.stash:
        config.stash[_UNREACHABLE] = gate.cluster_failure(*_choice(config))
    return config.stash[_UNREACHABLE]


def required(variable: str) -> bool:
    return os.environ.get(variable) == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    markexpr = config.getoption("-m") or ""
    context, provider = config.getoption("kube_context"), config.getoption("provider")
    has_docker: bool | None = None
    for item in items:
        if "net" in item.keywords and "net" not in markexpr:
            item.add_marker(pytest.mark.skip(reason="net: reaches the internet; run with -m net"))
        if "local_cluster" in item.keywords and "local_cluster" not in markexpr:
            item.add_marker(pytest.mark.skip(reason="local cluster: run with -m local_cluster"))
        if "kind" in item.keywords:
            if "kind" not in markexpr:
                item.add_marker(pytest.mark.skip(reason="kind track: run with pytest -m kind"))
            elif not kind_available(context, provider) and not required("GTC_REQUIRE_KIND"):
                tools = "/".join(gate.cluster_tools(context, provider))
                item.add_marker(pytest.mark.skip(reason=f"{tools} not on PATH"))
        if "docker" in item.keywords:
            if has_docker is None:
                has_docker = docker_available()
            if not has_docker and not required("GTC_REQUIRE_DOCKER"):
                item.add_marker(pytest.mark.skip(reason="skipped: no docker"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """With GTC_REQUIRE_DOCKER=1 a docker test fails (not skips) when no engine answers."""
    if "docker" in item.keywords and required("GTC_REQUIRE_DOCKER") and not docker_available():
        pytest.fail("GTC_REQUIRE_DOCKER=1 but no Docker engine answers `docker info`")
    context, provider = item.config.getoption("kube_context"), item.config.getoption("provider")
    needs_tools = required("GTC_REQUIRE_KIND") and not kind_available(context, provider)
    if "kind" in item.keywords and needs_tools:
        tools = " or ".join(gate.cluster_tools(context, provider))
        pytest.fail(f"GTC_REQUIRE_KIND=1 but {tools} is not on PATH")
    if "kind" in item.keywords and (failure := unreachable(item.config)):
        pytest.fail(failure, pytrace=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Delete the kind clusters this process created (each xdist worker has its own)."""
    kind_clusters_mod = sys.modules.get("harness.kube.clusters")
    if kind_clusters_mod is not None:
        kind_clusters_mod.close_session_clusters()


# -- fixtures ------------------------------------------------------------------------------------


def _require_track_tools(
    track: str, kube_context: str | None = None, provider: str | None = None
) -> None:
    """Skip (or fail under GTC_REQUIRE_*) when the selected track's tools are missing."""
    if track == "docker" and not docker_available():
        if required("GTC_REQUIRE_DOCKER"):
            pytest.fail("--track docker with GTC_REQUIRE_DOCKER=1, but no Docker engine answers")
        pytest.skip("--track docker: no Docker engine answers `docker info`")
    if track == "kind" and not kind_available(kube_context, provider):
        tools = " or ".join(gate.cluster_tools(kube_context, provider))
        if required("GTC_REQUIRE_KIND"):
            pytest.fail(f"--track kind with GTC_REQUIRE_KIND=1, but {tools} is missing")
        pytest.skip(f"--track kind: {tools} is not on PATH")


def _choice(config: pytest.Config) -> tuple[str | None, str | None]:
    """The cluster the flags select: (--kube-context, --provider)."""
    return config.getoption("kube_context"), config.getoption("provider")


@pytest.fixture(scope="session")
def track(pytestconfig: pytest.Config) -> str:
    """The selected track (`--track`, default host); skips when its tools are missing."""
    selected: str = pytestconfig.getoption("track")
    _require_track_tools(selected, *_choice(pytestconfig))
    if selected == "kind" and (failure := unreachable(pytestconfig)):
        pytest.fail(failure, pytrace=False)
    return selected


@pytest.fixture(scope="session")
def artifacts_dir(pytestconfig: pytest.Config) -> Path | None:
    """`--artifacts-dir`, or None for the harness default ($GTC_ARTIFACTS, else ./artifacts)."""
    value = pytestconfig.getoption("artifacts_dir")
    return Path(value).resolve() if value else None


@pytest.fixture
def gtc_run(
    request: pytest.FixtureRequest, track: str, artifacts_dir: Path | None
) -> Iterator[ScenarioContext]:
    """This test as one harness run: run id, `<artifacts>/<run-id>/`, an empty store."""
    run = open_run(request.node.name, track, artifacts_root=artifacts_dir)
    try:
        yield run
    finally:
        close_run(run)


@pytest.fixture
def env_store(gtc_run: ScenarioContext) -> Path:
    """The store root `gtc` authors (empty at the start of the test)."""
    return gtc_run.store_root


@pytest.fixture
def gtc(gtc_run: ScenarioContext) -> Gtc:
    """The real `gtc` CLI on `env_store` with a private operator key; commands are logged to
    the run's artifacts (`commands.sh`). Example: `gtc.op("env", "create", "local")`."""
    return Gtc(gtc_run.store_root, env=operator_env(gtc_run.work_dir), artifacts=gtc_run.artifacts)


@pytest.fixture(scope="session")
def fixture_bundle() -> Callable[[str], Path]:
    """`fixture_bundle("webchat-bot")` → the path of that built fixture bundle."""
    return fixture_bundle_path


@pytest.fixture
def track_backend(gtc_run: ScenarioContext, track: str) -> tracks.WorkerBackend:
    """The selected track's backend, bound to this test's run (what scenarios use)."""
    gtc_run.worker_backend = tracks.backend_for(track)
    return gtc_run.worker_backend


@pytest.fixture
def distributor(gtc_run: ScenarioContext, track_backend: tracks.WorkerBackend) -> BundleServer:
    """An HTTP distributor: loopback on host, in the pod network on docker/kind.
    `uri = distributor.publish(bundle)` is the `bundle_source_uri` a worker pulls."""
    source = track_backend.serve_bundles(gtc_run, gtc_run.work_dir / "distributor")
    return BundleServer(track_backend, source)


@pytest.fixture
def oci_registry(gtc_run: ScenarioContext, track_backend: tracks.WorkerBackend) -> OciSource:
    """A plain-HTTP OCI registry: `uri = oci_registry.push(gtc, bundle, "repo:tag")`; a worker
    pulling from it needs `env=oci_registry.worker_env`."""
    return OciSource(track_backend, track_backend.registry(gtc_run))


@pytest.fixture
def worker(
    gtc_run: ScenarioContext, track_backend: tracks.WorkerBackend
) -> Iterator[Callable[..., tracks.RunningWorker]]:
    """`worker("local", env=…)` boots `start --env local` from `env_store` on the selected
    track (a process on host, a pod on docker/kind); every one is stopped at teardown."""
    started: list[tracks.RunningWorker] = []

    def start(env_id: str = "local", **kwargs: Any) -> tracks.RunningWorker:
        running = track_backend.start(gtc_run, env_id, **kwargs)
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        running.stop()


@pytest.fixture(scope="session")
def cluster(pytestconfig: pytest.Config) -> ClusterHandle:
    """The selected cluster, the one scenario runs use (`harness.kube.clusters`):
    `--kube-context CTX` (the `existing` provider: checked reachable in seconds, images pushed
    to `--image-registry`, per-run namespaces), else a named or kept kind cluster
    (`--cluster-name`, `--keep-cluster`), else this process's own. Skips without its tools."""
    from harness.kube import clusters
    from harness.kube.commands import SubprocessRunner

    _require_track_tools("kind", *_choice(pytestconfig))
    if failure := unreachable(pytestconfig):
        pytest.fail(failure, pytrace=False)

    def registry_image() -> str:
        from harness.docker import images

        return images.ensure_all().registry

    runner = SubprocessRunner()
    options = clusters.cluster_options()
    provider = clusters.session_provider(options, runner=runner, registry_image=registry_image)
    return ClusterHandle(provider, runner)  # closed at session end (close_session_clusters)


@pytest.fixture
def scenario(track: str, artifacts_dir: Path | None) -> Callable[..., ScenarioResult]:
    """`scenario("host-pull", variant="http")` runs `scenarios/host_pull.py` on the selected
    track and returns its result (assert `result.ok, result.summary()`); a track that lacks
    what the scenario needs skips the test with the reason."""
    from harness import runner

    def run(name: str, *, variant: str | None = None) -> ScenarioResult:
        module = load_scenario(name)
        result = runner.execute(module, track=track, variant=variant, artifacts_root=artifacts_dir)
        if result.skipped is not None:
            pytest.skip(result.skipped)
        return result

    return run
