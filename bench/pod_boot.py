"""Pod boot on the docker track: reconcile onto a DockerCluster → the worker pod Ready.

The timed window covers `reconcile.run` (the code of `op env reconcile`) onto the docker
track's DockerCluster and what a cluster does after it: the sandbox and
its tmpfs volumes, the init containers staging environment.json (and the dev-store), the
runtime container's Python start and the readiness probe passing. Two cases: `probes` (a
warmed revision with nothing to pull) and `pull` (the worker pulls perf-smoke from the
in-network httpd, whose pod is started before the clock runs). Each run uses a fresh run id;
the median, min and max of N runs are printed. Usage: `python bench/pod_boot.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from greentic.deployer.k8s import inputs, naming, reconcile, render
from greentic.deployer.k8s.bodies import Body
from greentic.store.envstore import Store
from harness import k8s_fixtures
from harness.context import new_run_id
from harness.docker import pods, track
from harness.docker.cluster import DockerCluster, state_path
from harness.op import Gtc, operator_env

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "fixtures" / "bundles" / "perf-smoke.gtbundle"
ENV_ID = "local"
NAMESPACE = naming.namespace_for_env(ENV_ID)
READY_DEADLINE_S = 120.0


def author(work: Path, runtime_image: str, *, pull: bool) -> tuple[Path, str]:
    """A store with env `local` bound to the k8s deployer and one warmed revision (routed
    and pulled from the in-network httpd when `pull`); returns (store root, revision id)."""
    store = work / "store"
    store.mkdir(parents=True)
    cli = Gtc(store, env=operator_env(work))
    answers = work / "answers.json"
    answers.write_text(f'{{"runtime_image": "{runtime_image}"}}\n')
    cli.op("env", "create", ENV_ID, "--name", ENV_ID)
    cli.op("trust-root", "bootstrap", ENV_ID)
    cli.op(
        "env-packs", "add", f"environment_id={ENV_ID}", "slot=deployer",
        "kind=greentic.deployer.k8s@1.0.0", "pack_ref=builtin", f"answers_ref={answers}",
    )  # fmt: skip
    payload = work / "bundles-add.json"
    payload.write_text(
        '{"environment_id": "local", "bundle_id": "perf-smoke", '
        '"route_binding": {"path_prefixes": ["/"]}}\n'
    )
    deployment_id = cli.op("bundles", "add", answers=payload)["deployment_id"]
    stage = [f"environment_id={ENV_ID}", f"deployment_id={deployment_id}"]
    stage.append(f"bundle_path={FIXTURE}")
    if pull:
        host = k8s_fixtures.service_host(k8s_fixtures.BUNDLE_SERVER, NAMESPACE)
        stage.append(f"bundle_source_uri=http://{host}:8080/{FIXTURE.name}")
    revision_id = str(cli.op("revisions", "stage", *stage)["revision_id"])
    cli.op("revisions", "warm", f"environment_id={ENV_ID}", f"revision_id={revision_id}")
    if pull:
        split = work / "traffic.json"
        split.write_text(
            f'{{"environment_id": "local", "deployment_id": "{deployment_id}", '
            f'"entries": [{{"revision_id": "{revision_id}", "weight_bps": 10000}}]}}\n'
        )
        cli.op("traffic", "set", answers=split)
    return store, revision_id


def one_boot(objects: list[Body], worker: str, work: Path, images: Any, *, pull: bool) -> float:
    run_id = new_run_id("bench-pod-boot", "docker")
    with pods.Pods(run_id, work_dir=work / run_id, sandbox_image=images.busybox) as pod_set:
        cluster = DockerCluster(pod_set, state_file=state_path(work / run_id))
        if pull:
            fixture = {FIXTURE.name: FIXTURE.read_bytes()}
            server = k8s_fixtures.bundle_server(NAMESPACE, fixture, image=images.busybox)
            cluster.apply([cast(Body, o) for o in server], field_manager="bench", force=True)
            cluster.settle()
            pod_set.pod(k8s_fixtures.BUNDLE_SERVER).wait_ready(READY_DEADLINE_S)
        started = time.monotonic()
        reconcile.run(objects, cluster=cluster, env_id=ENV_ID)
        cluster.settle()
        pod_set.pod(worker).wait_ready(READY_DEADLINE_S, interval=0.02)
        return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    images = track.local_images()
    print(f"pod boot: reconcile → worker Ready on the docker track ({args.runs} runs each)")
    print(f"  images: runtime {images.runtime}, init/sandbox {images.busybox}")
    with tempfile.TemporaryDirectory(prefix="gtc-pod-boot-") as tmp:
        for case in ("probes", "pull"):
            work = Path(tmp) / case
            store, revision_id = author(work, images.runtime, pull=case == "pull")
            objects = render.render(inputs.load(Store(store), ENV_ID))
            worker = naming.worker_name(revision_id)
            one_boot(objects, worker, work, images, pull=case == "pull")  # warm-up, not counted
            times = [
                one_boot(objects, worker, work, images, pull=case == "pull")
                for _ in range(args.runs)
            ]
            med = statistics.median(times)
            print(
                f"  {case:<6} {len(objects)} objects: median {med * 1000:7.0f} ms "
                f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
