"""The objects the pytest plugin's fixtures hand to a test, kept free of pytest.

A test is one run like a scenario's (`open_run`: a `ScenarioContext` with its own run id,
artifacts and store), so the fixtures reuse the track backends scenarios use: `BundleServer`
and `OciSource` say the uri a worker pulls from on the selected track, and `ClusterHandle` is
the selected cluster (`kubectl`, `load_image`, `port_forward`). Used by harness.pytest_plugin.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from harness import reap
from harness.artifacts import Artifacts, default_root
from harness.context import REPO_ROOT, ScenarioContext, new_run_id
from harness.errors import HarnessError
from harness.kube.commands import Completed, Runner, must
from harness.op import Gtc
from harness.tracks import INSECURE_ENV, WorkerBackend

if TYPE_CHECKING:
    from harness.distributor import Distributor
    from harness.kube.providers import Provider
    from harness.registry import Registry

FIXTURES_DIR = REPO_ROOT / "fixtures" / "bundles"
BUNDLE_SUFFIX = ".gtbundle"
# scenarios sit above the harness (.importlinter layers): found by name, like tracks.TRACKS
SCENARIOS_PACKAGE = "scenarios"


def open_run(test_name: str, track: str, *, artifacts_root: Path | None) -> ScenarioContext:
    """A fresh run for one test: `<artifacts>/<run-id>/` with `work/store` (empty)."""
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40] or "test"
    run_id = new_run_id(slug, track)
    artifacts = Artifacts((artifacts_root or default_root(REPO_ROOT)).resolve() / run_id)
    work_dir = artifacts.dir / "work"
    (work_dir / "store").mkdir(parents=True)
    return ScenarioContext(
        name=slug,
        track=track,
        variant=None,
        run_id=run_id,
        artifacts=artifacts,
        work_dir=work_dir,
        store_root=work_dir / "store",
        keep=False,
        stack=ExitStack(),
    )


def close_run(run: ScenarioContext) -> list[str]:
    """Close what the run opened, then sweep leftovers by run id; what the sweep removed."""
    try:
        run.stack.close()
    finally:
        swept = reap.reap(run.run_id)
        if swept:
            run.artifacts.write_json("reaped.json", swept)
    return swept


def fixture_bundle_path(name: str, *, root: Path = FIXTURES_DIR) -> Path:
    """`webchat-bot` (or `webchat-bot.gtbundle`) → the built fixture; a clear error otherwise."""
    file_name = name if name.endswith(BUNDLE_SUFFIX) else name + BUNDLE_SUFFIX
    path = root / file_name
    if path.is_file():
        return path
    built = sorted(p.name.removesuffix(BUNDLE_SUFFIX) for p in root.glob(f"*{BUNDLE_SUFFIX}"))
    known = f" (built: {', '.join(built)})" if built else ""
    raise HarnessError(
        f"no fixture bundle `{name}` in {root}{known}\n"
        "Hint: build the fixtures with `make fixtures`, or pick one of those listed"
    )


def load_scenario(name: str) -> ModuleType:
    """The scenario module `name` (`host-pull`); a clear error naming the known ones."""
    catalog = importlib.import_module(SCENARIOS_PACKAGE)
    try:
        module: ModuleType = catalog.load(name)
    except KeyError:
        known = ", ".join(catalog.names())
        raise HarnessError(
            f"no scenario `{name}` (known: {known})\nHint: `python demo.py list` describes them"
        ) from None
    return module


@dataclass
class BundleServer:
    """The track's HTTP distributor (loopback on host, an in-network httpd pod on docker)."""

    backend: WorkerBackend
    source: Distributor

    def publish(self, bundle: Path) -> str:
        """Serve `bundle`; the `bundle_source_uri` a worker on this track pulls it from."""
        self.source.publish(bundle)
        return self.backend.bundle_uri_for(self.source, bundle.name)

    def hits(self, name: str) -> int:
        """GETs of `name` served so far."""
        return self.source.hits(name)


@dataclass
class OciSource:
    """The track's OCI registry: push with `gtc bundle push`, pull as the worker does."""

    backend: WorkerBackend
    source: Registry

    def push(self, gtc: Gtc, bundle: Path, repository_tag: str) -> str:
        """`gtc bundle push` (plain HTTP); the `bundle_source_uri` a worker pulls it from."""
        gtc.run("bundle", "push", str(bundle), self.source.ref(repository_tag), "--insecure")
        return self.backend.bundle_uri_for(self.source, repository_tag)

    @property
    def worker_env(self) -> dict[str, str]:
        """What a worker needs to pull from this plain-HTTP registry (pass to `worker(env=…)`)."""
        return {INSECURE_ENV: self.backend.authority_for(self.source)}

    def pulls(self, repository_tag: str) -> int:
        return self.source.pulls(repository_tag)


@dataclass
class ClusterHandle:
    """The selected cluster as a test uses it, whatever provider made it. Example::

    cluster.kubectl("get", "nodes")
    ref = cluster.load_image("greentic-runtime:3f2a")  # the ref a pod names
    with cluster.port_forward("app=web", 8080, namespace="demo") as url:
        httpx.get(url + "/healthz")
    """

    provider: Provider
    runner: Runner

    @property
    def context(self) -> str:
        return self.provider.context

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> Completed:
        """`kubectl --context … ARGS`; raises with kubectl's message when `check` and it fails."""
        result = self.runner.run(self.provider.kubectl_argv(*args), timeout=120.0, input=input)
        return must(result) if check else result

    def load_image(self, tag: str) -> str:
        """Make a local image pullable by the cluster (kind: `kind load`; an existing cluster:
        pushed to `--image-registry`); the ref a pod spec names."""
        return self.provider.image_ref(tag)

    @contextmanager
    def port_forward(self, selector: str, port: int, *, namespace: str) -> Iterator[str]:
        """`http://127.0.0.1:<local>` forwarding to the Ready pod behind `selector`; follows
        rollouts; stopped when the block ends."""
        from harness.kube.portforward import PortForward

        argv = self.provider.kubectl_argv()
        with PortForward(argv, namespace, selector, port, runner=self.runner) as forward:
            yield forward.url()
