"""Local cluster boot (#15): cluster-up (warm cache) and reconcile → worker Ready with pull.

Three figures from one run, on the real single-node cluster of `harness.kube.local.cluster`:
- cluster-up (warm): `start()` with the binaries already in the build cache, until it returns
  (node Ready, CoreDNS available); each start but the first follows a timed `stop()`, whose
  leftovers on the host (expected: none) are printed. A cluster running beforehand is stopped
  first, so `--cycles` starts give up to `--cycles` stops.
- reconcile → worker Ready with pull on the local cluster: pod_boot's `pull` store (its
  `author`), rendered once. Per run, a fresh `gtc-local` namespace (the previous one deleted
  and gone), the fixture NetworkPolicies and the in-cluster bundle server, Ready before the
  clock starts. The clock covers `KubeCluster.connect` (as `op env reconcile` does; its API
  discovery is lazy, so most of it lands in `reconcile.run`), `reconcile.run` and the worker
  Deployment's pod turning Ready (polled every 50 ms).
  Every image the pods name is imported into the node's containerd first.
- the docker track's `pull` figure, pod_boot's `one_boot` on the same rendered objects,
  measured while the local cluster is down so the two never share the cores.
One warm-up run per track is not counted; the median, min and max are printed. The cluster is
left running at the end (started again if this run stopped it). Needs root, Docker and the
built binaries (`python -m harness.kube.local.build`). Usage:
`python bench/cluster_boot.py [--cycles N] [--runs N] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pod_boot import ENV_ID, FIXTURE, NAMESPACE, READY_DEADLINE_S, author, one_boot
from greentic.deployer.k8s import inputs, naming, reconcile, render, rollout
from greentic.deployer.k8s.bodies import Body, ObjectRef
from greentic.deployer.k8s.cluster import KubeCluster
from greentic.errors import GreenticError, NotFound
from greentic.store.envstore import Store
from harness import k8s_fixtures
from harness.docker import track
from harness.errors import HarnessError
from harness.kube.commands import SubprocessRunner
from harness.kube.local import build, images
from harness.kube.local import cluster as local_cluster

POLL_S = 0.05  # the worker's Ready poll
SETTLE_POLL_S = 0.5  # outside the clock: namespace gone, bundle server Ready
NAMESPACE_GONE_S = 180.0
FIELD_MANAGER = "bench-cluster-boot"


class ClusterBootError(HarnessError):
    """The bench could not measure; the message names what and where to look."""


# -- pure helpers ----------------------------------------------------------------------------


def summary(times: Sequence[float]) -> str:
    """`median M ms (min A, max B)` of seconds."""
    med = statistics.median(times)
    return f"median {med * 1000:7.0f} ms (min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})"


def named_images(objects: Sequence[Body]) -> list[str]:
    """Every container image the objects' pod templates name, sorted (what the node needs)."""
    found: set[str] = set()
    for obj in objects:
        pod = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in (pod.get("initContainers") or []) + (pod.get("containers") or []):
            found.add(str(container["image"]))
    return sorted(found)


def deployment(objects: Sequence[Body], name: str) -> Body:
    """The Deployment `name` among `objects`."""
    for obj in objects:
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == name:
            return obj
    raise ValueError(f"no Deployment {name} among the {len(objects)} objects")


def pod_ready(pod: Body) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def namespace_body(name: str) -> Body:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def binaries_cached(version: str) -> bool:
    """Whether `start()` would build nothing (the warm-cache premise of the figure)."""
    bin_dir = build.version_dir(version) / "bin"
    return all((bin_dir / target.name).exists() for target in build.TARGETS)


# -- the local cluster's life ----------------------------------------------------------------


def _quiet(_line: str) -> None:
    """start()/stop() progress lines would interleave with the figures."""


def timed_stop(directory: Path) -> float:
    started = time.monotonic()
    left = local_cluster.stop(directory, out=_quiet)
    took = time.monotonic() - started
    for line in left:
        print(f"  stop left on the host: {line}")
    return took


def timed_start(directory: Path) -> tuple[float, local_cluster.LocalCluster]:
    started = time.monotonic()
    found = local_cluster.start(directory, out=_quiet)
    return time.monotonic() - started, found


# -- the local cluster's pod boot ------------------------------------------------------------


def wait_ready(cluster: KubeCluster, dep: Body, deadline_s: float, interval: float) -> None:
    """Until a pod of Deployment `dep` is Ready; on the deadline, rollout's diagnosis."""
    meta = dep["metadata"]
    labels = dep["spec"]["selector"]["matchLabels"]
    deadline = time.monotonic() + deadline_s
    while not any(pod_ready(p) for p in cluster.list("Pod", namespace=NAMESPACE, labels=labels)):
        if time.monotonic() > deadline:
            raise ClusterBootError(
                f"Deployment {meta['name']} in {NAMESPACE}: no Ready pod within "
                f"{deadline_s:.0f}s; {rollout.diagnose(cluster, dep)}"
            )
        time.sleep(interval)


def fresh_namespace(cluster: KubeCluster) -> None:
    """`gtc-local` deleted (and gone), then created bare, as the kind track's per-run reset."""
    key = ObjectRef("v1", "Namespace", None, NAMESPACE)
    cluster.delete(key)
    deadline = time.monotonic() + NAMESPACE_GONE_S
    while True:
        try:
            cluster.get(key)
        except NotFound:
            break
        if time.monotonic() > deadline:
            raise ClusterBootError(
                f"namespace {NAMESPACE} still exists {NAMESPACE_GONE_S:.0f}s after its deletion "
                f"(kubectl get namespace {NAMESPACE} -o yaml)"
            )
        time.sleep(SETTLE_POLL_S)
    cluster.apply([namespace_body(NAMESPACE)], field_manager=FIELD_MANAGER, force=True)


def local_boot(
    found: local_cluster.LocalCluster, objects: list[Body], worker: Body, fixtures: list[Body]
) -> tuple[float, float]:
    """One timed run; (seconds to the worker Ready, of which connect + discovery)."""
    kubeconfig = str(found.kubeconfig)
    with KubeCluster.connect(found.context, kubeconfig=kubeconfig) as watch:
        fresh_namespace(watch)
        watch.apply(fixtures, field_manager=FIELD_MANAGER, force=True)
        server = deployment(fixtures, k8s_fixtures.BUNDLE_SERVER)
        wait_ready(watch, server, READY_DEADLINE_S, SETTLE_POLL_S)
        started = time.monotonic()
        cluster = KubeCluster.connect(found.context, kubeconfig=kubeconfig)
        try:
            connected = time.monotonic()
            reconcile.run(objects, cluster=cluster, env_id=ENV_ID)
            wait_ready(watch, worker, READY_DEADLINE_S, POLL_S)
            took = time.monotonic() - started
        finally:
            cluster.close()
    return took, connected - started


def local_boots(
    found: local_cluster.LocalCluster, objects: list[Body], worker: Body, busybox: str, runs: int
) -> list[tuple[float, float]]:
    """Images imported, a warm-up run, then `runs` timed runs; the namespace deleted after."""
    served = {FIXTURE.name: FIXTURE.read_bytes()}
    fixtures = [
        cast(Body, obj)
        for obj in (
            *k8s_fixtures.fixture_policies(NAMESPACE, ENV_ID),
            *k8s_fixtures.bundle_server(NAMESPACE, served, image=busybox),
        )
    ]
    runner = SubprocessRunner()
    for tag in named_images([*objects, *fixtures]):
        images.import_docker_image(found.containerd_address, tag, runner=runner)
    local_boot(found, objects, worker, fixtures)  # warm-up, not counted
    try:
        return [local_boot(found, objects, worker, fixtures) for _ in range(runs)]
    finally:
        with KubeCluster.connect(found.context, kubeconfig=str(found.kubeconfig)) as cluster:
            cluster.delete(ObjectRef("v1", "Namespace", None, NAMESPACE))


def docker_boots(objects: list[Body], worker: str, work: Path, runs: int) -> list[float]:
    """pod_boot's `pull` case on the same objects: a warm-up run, then `runs` timed runs."""
    local = track.local_images()
    one_boot(objects, worker, work, local, pull=True)  # warm-up, not counted
    return [one_boot(objects, worker, work, local, pull=True) for _ in range(runs)]


# -- the run ---------------------------------------------------------------------------------


def figures(
    starts: list[float], stops: list[float], local: list[float], docker: list[float]
) -> list[dict[str, Any]]:
    """The `--json` figures (bench/report.py's shape), milliseconds."""
    med_local, med_docker = statistics.median(local), statistics.median(docker)
    rows: list[dict[str, Any]] = [
        {"name": "cluster-up, warm cache", "value": statistics.median(starts) * 1000,
         "unit": "ms"},
        {"name": "reconcile → worker Ready, pull (local cluster)", "value": med_local * 1000,
         "unit": "ms", "baseline": "docker track (bench/pod_boot.py pull)",
         "baseline_value": med_docker * 1000, "ratio": med_local / med_docker},
    ]  # fmt: skip
    if stops:
        rows.insert(1, {"name": "cluster-down", "value": statistics.median(stops) * 1000,
                        "unit": "ms"})  # fmt: skip
    return rows


def measure(args: argparse.Namespace, work: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Every figure; the cluster is running when this returns or raises."""
    directory = local_cluster.default_dir()
    local = track.local_images()
    say(f"  images: runtime {local.runtime}, init/sandbox {local.busybox}")
    store, revision_id = author(work / "author", local.runtime, pull=True)
    objects = render.render(inputs.load(Store(store), ENV_ID))
    worker = naming.worker_name(revision_id)
    stops: list[float] = []
    try:
        if local_cluster.running(directory) is not None:
            stops.append(timed_stop(directory))
        docker = docker_boots(objects, worker, work / "docker", args.runs)
        say(f"  docker track, reconcile → worker Ready, pull:   {summary(docker)}")
        starts: list[float] = []
        for cycle in range(args.cycles):
            if cycle:
                stops.append(timed_stop(directory))
            took, found = timed_start(directory)
            starts.append(took)
        say(f"  cluster-up, warm cache ({found.version}, {len(starts)}x): {summary(starts)}")
        if stops:
            say(f"  cluster-down ({len(stops)}x):                   {summary(stops)}")
        pairs = local_boots(found, objects, deployment(objects, worker), local.busybox, args.runs)
    finally:
        if local_cluster.running(directory) is None:
            local_cluster.start(directory, out=_quiet)
    boots = [total for total, _ in pairs]
    connects = [connect for _, connect in pairs]
    say(f"  local cluster, reconcile → worker Ready, pull: {summary(boots)}")
    say(f"    each run (ms): {', '.join(f'{t * 1000:.0f}' for t in boots)}")
    say(f"    of which KubeCluster.connect:                {summary(connects)}")
    ratio = statistics.median(boots) / statistics.median(docker)
    say(f"  local / docker (medians): {ratio:.2f}x; {len(objects)} objects; cluster left running")
    return {
        "bench": "cluster_boot",
        "title": "Local cluster: cluster-up and pod boot with pull",
        "figures": figures(starts, stops, boots, docker),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cycles", type=int, default=3, help="timed cluster starts")
    parser.add_argument("--runs", type=int, default=5, help="timed pod boots per track")
    parser.add_argument("--json", action="store_true", help="also print one JSON document")
    args = parser.parse_args()
    if args.cycles < 1 or args.runs < 1:
        parser.error("--cycles and --runs must be at least 1")
    version = build.DEFAULT_KUBERNETES
    if not binaries_cached(version):
        print(f"cluster boot: not measured: Kubernetes {version} is not built (the figure is for "
              f"a warm cache) — run `python -m harness.kube.local.build --version {version}`",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"cluster boot: local cluster {version} ({args.cycles} starts) and reconcile → "
          f"worker Ready with pull ({args.runs} runs per track, after a warm-up)")  # fmt: skip
    try:
        with tempfile.TemporaryDirectory(prefix="gtc-cluster-boot-") as tmp:
            doc = measure(args, Path(tmp), print)
    except (HarnessError, GreenticError) as exc:
        print(f"cluster boot: not measured: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
