"""Environment.check: every cross-document rule, each broken on its own, named in the error."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from greentic.spec.environment import (
    BundleDeployment,
    Environment,
    EnvPackBinding,
    HostConfig,
    MessagingEndpoint,
    Revision,
    TrafficEntry,
    TrafficSplit,
)

NOW = "2024-01-01T00:00:00Z"
DIGEST = "sha256:" + "a" * 64
D1, R1 = "01ARZ3NDEKTSV4RRFFQ69G5FAV", "01ARZ3NDEKTSV4RRFFQ69G5FAW"
GHOST = "01ARZ3NDEKTSV4RRFFQ69G5FAX"


def valid_env() -> Environment:
    """Env `e1`: one deployment D1 of bundle `bot`, revision R1 routed 100%, an endpoint."""
    return Environment(
        environment_id="e1",
        name="e1",
        host_config=HostConfig(env_id="e1"),
        packs=[EnvPackBinding(slot="deployer", kind="k", pack_ref="builtin")],
        bundles=[
            BundleDeployment(
                deployment_id=D1, env_id="e1", bundle_id="bot", customer_id="c", created_at=NOW
            )
        ],
        revisions=[
            Revision(
                revision_id=R1,
                env_id="e1",
                bundle_id="bot",
                deployment_id=D1,
                sequence=1,
                created_at=NOW,
                bundle_digest=DIGEST,
                pack_list_lock_ref=f"revisions/{R1}/pack-list.lock",
            )
        ],
        traffic_splits=[
            TrafficSplit(
                env_id="e1",
                deployment_id=D1,
                bundle_id="bot",
                entries=[TrafficEntry(revision_id=R1, weight_bps=10_000)],
                updated_at=NOW,
                idempotency_key="k",
            )
        ],
        messaging_endpoints=[
            MessagingEndpoint(
                env_id="e1",
                endpoint_id="ep1",
                provider_type="messaging.telegram.bot",
                provider_id="p",
                display_name="Bot",
                linked_bundles=["bot"],
            )
        ],
    )


def test_the_valid_env_passes() -> None:
    valid_env().check()


def _dup_slot(env: Environment) -> None:
    env.packs.append(env.packs[0].model_copy())


def _foreign_revision(env: Environment) -> None:
    env.revisions[0].env_id = "other"


def _unknown_deployment(env: Environment) -> None:
    env.traffic_splits[0].deployment_id = GHOST


def _unknown_revision(env: Environment) -> None:
    env.traffic_splits[0].entries[0].revision_id = GHOST


def _link_not_deployed(env: Environment) -> None:
    env.messaging_endpoints[0].linked_bundles = ["gone"]


def _host_config(env: Environment) -> None:
    env.host_config.env_id = "other"


@pytest.mark.parametrize(
    ("breaks", "message"),
    [
        (_host_config, "host_config.env_id `other` != `e1`"),
        (_dup_slot, "duplicate pack binding for slot `deployer`"),
        (_foreign_revision, "revision belongs to env `other`, not `e1`"),
        (_unknown_deployment, f"traffic split points at unknown deployment `{GHOST}`"),
        (
            _unknown_revision,
            f"traffic split of deployment `{D1}` points at revision `{GHOST}`, which is not a "
            "revision of that deployment",
        ),
        (
            _link_not_deployed,
            "messaging endpoint `Bot` links bundle `gone`, which is not deployed in this env",
        ),
    ],
)
def test_each_rule_is_named(breaks: Callable[[Environment], None], message: str) -> None:
    env = valid_env()
    breaks(env)
    with pytest.raises(ValueError) as err:
        env.check()
    assert str(err.value) == message
