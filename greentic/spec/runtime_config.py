"""runtime-config.json (`greentic.runtime-config.v1`): the traffic projection the worker serves.

`project(env)` is the pure projection (one block per split entry, SPEC §2.2); the store writes
it and the worker loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from greentic.spec import rules
from greentic.spec.base import Model
from greentic.spec.environment import MAX_BPS, Environment


class RuntimeRevision(Model):
    deployment_id: str
    revision_id: str
    bundle_id: str
    pack_list_refs: list[str] = Field(default_factory=list)
    pack_config_refs: list[str] = Field(default_factory=list)
    weight_bps: int = Field(ge=0, le=MAX_BPS)


class RuntimeConfig(Model):
    schema_: Literal["greentic.runtime-config.v1"] = Field(
        default="greentic.runtime-config.v1", alias="schema"
    )
    env_id: str
    revisions: list[RuntimeRevision] = Field(default_factory=list)

    model_config = Model.model_config | {"populate_by_name": True}

    def check(self, env_id: str, env_dir: Path) -> None:
        """Loading rules (greentic.spec.rules): env id matches, weights per deployment sum to
        10000, refs stay inside the env dir."""
        rules.check_runtime_config(self.model_dump(), env_id, env_dir)


def project(env: Environment) -> RuntimeConfig:
    """Pure projection of the env's traffic splits into runtime-config (not lifecycle-filtered)."""
    blocks: list[RuntimeRevision] = []
    for split in env.traffic_splits:
        for entry in split.entries:
            rev = env.revision(entry.revision_id)
            if rev is None:
                continue
            blocks.append(
                RuntimeRevision(
                    deployment_id=split.deployment_id,
                    revision_id=rev.revision_id,
                    bundle_id=rev.bundle_id,
                    pack_list_refs=[rev.pack_list_lock_ref] if rev.pack_list_lock_ref else [],
                    pack_config_refs=list(rev.pack_config_refs),
                    weight_bps=entry.weight_bps,
                )
            )
    return RuntimeConfig(env_id=env.environment_id, revisions=blocks)
