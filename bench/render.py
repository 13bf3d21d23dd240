"""Render time per revision at 10, 50 and 200 revisions (SPEC §6.3 render must stay linear).

Builds an environment with N ready revisions sharing one traffic split, then times
`render.objects` (and the YAML dump `op env render --out` adds). Prints one line per size;
the per-revision figures should stay flat as N grows. Run: `.venv/bin/python bench/render.py`.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from greentic.deployer.k8s import manifests, render
from greentic.deployer.k8s.answers import K8sAnswers
from greentic.spec.environment import (
    BundleDeployment,
    Environment,
    EnvPackBinding,
    HostConfig,
    Revision,
    TrafficEntry,
    TrafficSplit,
)
from greentic.store.ids import derived_ulid

SIZES = (10, 50, 200)
ROUNDS = 15
AT = "2026-01-01T00:00:00.000000Z"


def environment(n: int) -> Environment:
    dep = derived_ulid("bench-dep")
    revs = [
        Revision(
            revision_id=(rid := derived_ulid("bench-rev", str(i))),
            env_id="bench",
            bundle_id="bench-bundle",
            deployment_id=dep,
            sequence=i,
            created_at=AT,
            bundle_digest="sha256:" + f"{i:064x}",
            bundle_source_uri=f"http://dist.local/{i}.gtbundle",
            pack_list_lock_ref=f"revisions/{rid}/pack-list.lock",
            lifecycle="ready",
        )
        for i in range(n)
    ]
    weights = [10_000 // n] * n
    weights[0] += 10_000 - sum(weights)
    return Environment(
        environment_id="bench",
        name="bench",
        host_config=HostConfig(env_id="bench"),
        packs=[
            EnvPackBinding(slot="deployer", kind="greentic.deployer.k8s@1.0.0", pack_ref="builtin"),
            EnvPackBinding(slot="secrets", kind="greentic.secrets.dev-store@0.1.0", pack_ref="b"),
        ],
        bundles=[
            BundleDeployment(
                deployment_id=dep,
                env_id="bench",
                bundle_id="bench-bundle",
                customer_id="local",
                created_at=AT,
            )
        ],
        revisions=revs,
        traffic_splits=[
            TrafficSplit(
                env_id="bench",
                deployment_id=dep,
                bundle_id="bench-bundle",
                entries=[
                    TrafficEntry(revision_id=r.revision_id, weight_bps=w)
                    for r, w in zip(revs, weights, strict=True)
                ],
                updated_at=AT,
                idempotency_key="bench",
            )
        ],
    )


def timed(fn: object) -> float:
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    answers = K8sAnswers()
    head = ("revisions", "objects", "render ms", "µs/rev", "+yaml ms", "µs/rev")
    print("{:>9} {:>7} {:>10} {:>8} {:>9} {:>8}".format(*head))
    for n in SIZES:
        env = environment(n)
        objs = render.objects(env, answers, dev_store=b"sealed")
        t_render = timed(lambda env=env: render.objects(env, answers, dev_store=b"sealed"))
        t_yaml = timed(lambda objs=objs: manifests.dump_all(objs))
        print(
            f"{n:>9} {len(objs):>7} {t_render * 1e3:>10.2f} {t_render / n * 1e6:>8.0f} "
            f"{t_yaml * 1e3:>9.2f} {t_yaml / n * 1e6:>8.0f}"
        )


if __name__ == "__main__":
    main()
