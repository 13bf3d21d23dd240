"""`op deploy bundle_id=… bundle_path=…|bundle_source_uri=… bundle_digest=…`: one-step deploy.

Envelope labels are upstream's: noun `deploy`, verb `run`.
"""

from __future__ import annotations

from typing import Any

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import base_dir, keyword_payload, route_options, schema


@click.command("deploy")
@click.argument("args", nargs=-1)
@click.option("--env", "environment_id", default=None, help="Environment (default local).")
@click.option("--bundle", "bundle_path", default=None, help="Local .gtbundle.")
@click.option("--bundle-id", default=None, help="Default: the file's stem.")
@click.option("--source-uri", "bundle_source_uri", default=None)
@click.option("--digest", "bundle_digest", default=None)
@click.option("--customer-id", default=None)
@route_options
@click.option("--idempotency-key", default=None)
@click.pass_obj
def command(obj: OpContext, /, args: tuple[str, ...], **flags: Any) -> dict[str, Any]:
    """bundles add + revisions stage + warm + 100% traffic, in one step."""
    from greentic.deployer import deploy

    if obj.schema:
        return schema(deploy.DeployPayload)
    p = keyword_payload(obj, "deploy", deploy.DeployPayload, args, flags)
    return deploy.run(obj.store(), p, base_dir=base_dir(obj))
