"""The webchat-bot pull shared by `host-pull` and `kind-pull`: publish, author, check.

Both tracks publish the webchat-bot bundle to a pullable source (each its own `SOURCES`),
author env `local` with the real `gtc op` verbs so its revision pulls from there, and then
expect the same serving worker: the real-revision banner, /status 1/1/1, a real reply, and
the bytes fetched from that source. Used by scenarios/*.py only.
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.context import ScenarioContext
from harness.tracks import RunningWorker
from scenarios import _common as common

ENV_ID = "local"
BUNDLE_ID = "webchat-bot"
FIXTURE = "webchat-bot.gtbundle"
OCI_REPOSITORY = "greentic/webchat-bot:v1"
BANNER = r"serving 1 revision\(s\) for env `local`"
EXPECT_STATUS = {
    "schema": "greentic.status.v1",
    "env_id": ENV_ID,
    "bundles_active": 1,
    "deployments_routed": 1,
    "revisions_active": 1,
}
REQUEST = {"text": "hi"}
EXPECT_REPLY = "Hello from webchat-bot! You said: hi"  # fixtures/bundles/src/webchat-bot flow


def publish_and_author(
    ctx: ScenarioContext, sources: Mapping[str, common.PullSource], author_step: str
) -> tuple[common.Published, common.Authored]:
    """The bundle published to the variant's source, and env `local` routed to pull it.

    `author_step` is the step's text; `{source_uri}` in it names the source.
    """
    bundle = common.fixture(ctx, FIXTURE)
    cli = common.gtc(ctx)
    published = common.publish_pullable(
        ctx, cli, bundle, repository=OCI_REPOSITORY, sources=sources
    )
    source_uri = published.source_uri
    ctx.step(author_step.format(source_uri=source_uri))
    common.create_env(ctx, cli, ENV_ID)
    authored = common.add_routed_bundle(
        ctx, cli, env_id=ENV_ID, bundle_id=BUNDLE_ID, bundle_path=bundle, source_uri=source_uri
    )
    return published, authored


def expect_serving_pulled(
    ctx: ScenarioContext, worker: RunningWorker, published: common.Published
) -> None:
    """/status 1/1/1, a real reply, and the bytes really came from the published source."""
    common.expect_status(ctx, worker, EXPECT_STATUS)
    common.expect_reply(ctx, worker, path="/", body=REQUEST, reply_text=EXPECT_REPLY)
    common.expect_pulled(ctx, published)
