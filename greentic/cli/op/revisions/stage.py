"""`op revisions stage deployment_id=… bundle_path=… [bundle_source_uri=…]`."""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import base_dir, keyword_payload, schema


@click.command("stage")
@click.argument("args", nargs=-1)
@click.option("--env", "environment_id", default=None, help="Environment (default local).")
@click.option("--deployment", "deployment_id", default=None, help="Deployment ULID.")
@click.option("--bundle", "bundle_path", default=None, help="Local .gtbundle to pin.")
@click.option("--source-uri", "bundle_source_uri", default=None, help="Where workers pull it.")
@click.option("--digest", "bundle_digest", default=None, help="sha256:<hex> (URI-only).")
@click.pass_obj
def command(obj: OpContext, /, args: tuple[str, ...], **flags: Any) -> dict[str, Any]:
    """Pin the bundle's sha256 as bundle_digest and stage a revision (returns revision_id)."""
    from greentic.deployer import revisions

    if obj.schema:
        return schema(revisions.RevisionStagePayload)
    p = keyword_payload(obj, "revisions stage", revisions.RevisionStagePayload, args, flags)
    return revisions.stage(obj.store(), p, base_dir=base_dir(obj))
