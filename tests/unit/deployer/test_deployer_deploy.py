"""`deploy.run` as a function: its preconditions and a redeploy that would change the route."""

from __future__ import annotations

from pathlib import Path

import pytest

from greentic.deployer import deploy, env
from greentic.errors import Conflict, InvalidArgument, NotFound
from greentic.spec.environment import RouteBinding
from greentic.store.envstore import Store

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "bundles"
WEBCHAT = FIXTURES / "webchat-bot.gtbundle"


@pytest.fixture
def store(store_root: Path, operator_key: Path) -> Store:
    store = Store(store_root)
    env.init(store, env.EnvInitPayload())
    return store


def test_a_missing_env_is_named_with_the_fix(store_root: Path) -> None:
    with pytest.raises(NotFound, match=r"environment `local` not found .* env init"):
        deploy.run(Store(store_root), deploy.DeployPayload(environment_id="local"))


def test_a_bundle_and_its_id_are_required(store: Store) -> None:
    with pytest.raises(InvalidArgument, match=r"deploy requires a local `\.gtbundle`"):
        deploy.run(store, deploy.DeployPayload(environment_id="local", bundle_id="x"))
    uri_only = deploy.DeployPayload(
        environment_id="local",
        bundle_source_uri="http://127.0.0.1:9/b.gtbundle",
        bundle_digest="sha256:" + "0" * 64,
    )
    with pytest.raises(InvalidArgument, match="deploy needs bundle_id"):
        deploy.run(store, uri_only)


def test_redeploy_with_another_route_is_refused(store: Store) -> None:
    first = deploy.run(
        store, deploy.DeployPayload(environment_id="local", bundle_path=str(WEBCHAT))
    )
    assert first["reused_deployment"] is False
    again = deploy.run(
        store, deploy.DeployPayload(environment_id="local", bundle_path=str(WEBCHAT))
    )
    assert (again["reused_deployment"], again["revision_id"]) == (True, first["revision_id"])
    moved = RouteBinding.model_validate(
        {"path_prefixes": ["/elsewhere"], "tenant_selector": {"tenant": "t", "team": "default"}}
    )
    with pytest.raises(Conflict, match="route_binding differs from deployment"):
        deploy.run(
            store,
            deploy.DeployPayload(
                environment_id="local", bundle_path=str(WEBCHAT), route_binding=moved
            ),
        )
