"""`op env-packs add slot=… kind=… pack_ref=… [answers_ref=…] [--allow-outside]`: bind a slot.

An `answers_ref` named inside an `--answers` payload file must stay in that file's directory
unless `--allow-outside`; one typed on the command line is the operator's own choice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from greentic.cli.op.context import OpContext
from greentic.cli.op.payload import base_dir, keyword_payload, schema


@click.command("add")
@click.argument("args", nargs=-1)
@click.option("--env", "environment_id", default=None, help="Environment (default local).")
@click.option("--slot", default=None)
@click.option("--kind", default=None, help="<path>@<semver>")
@click.option("--pack-ref", default=None)
@click.option("--answers-ref", default=None, help="Answers file, staged into the env.")
@click.option(
    "--allow-outside",
    is_flag=True,
    help="Let an --answers payload's answers_ref point outside the payload file's directory.",
)
@click.pass_obj
def command(
    obj: OpContext, /, args: tuple[str, ...], allow_outside: bool, **flags: Any
) -> dict[str, Any]:
    """Bind a pack to a slot; its answers are copied to env-packs/<slot>/answers.json."""
    from greentic.deployer import env_packs

    if obj.schema:
        return schema(env_packs.EnvPackAddPayload)
    p = keyword_payload(obj, "env-packs add", env_packs.EnvPackAddPayload, args, flags)
    typed = obj.answers is None  # a path on the command line, not named by a document
    return env_packs.bind(
        obj.store(), p, base_dir=base_dir(obj) or Path.cwd(), allow_outside=allow_outside or typed
    )
