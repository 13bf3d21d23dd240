"""Which env-pack bindings make an environment a Kubernetes env, and what they imply.

Pure reads of `environment.json`'s `packs[]`: the deployer slot must be bound to
`greentic.deployer.k8s@1.x`, and a dev-store secrets binding means the dev-store Secret and
its init container are rendered. Called by inputs.load and render.
"""

from __future__ import annotations

from greentic.errors import Conflict, NotYetImplemented
from greentic.spec.environment import Environment, EnvPackBinding

K8S_DEPLOYER = "greentic.deployer.k8s"
K8S_KIND = f"{K8S_DEPLOYER}@1.0.0"
DEV_STORE = "greentic.secrets.dev-store"
VAULT = "greentic.secrets.vault"
SUPPORTED = ">=1.0.0-dev, <2.0.0"


def split_kind(kind: str) -> tuple[str, str]:
    """`path@version` → (path, version); a bare path has version ""."""
    path, _, version = kind.partition("@")
    return path, version


def bind_hint(env_id: str) -> str:
    return (
        f"bind it: gtc op env-packs add environment_id={env_id} slot=deployer "
        f"kind={K8S_KIND} pack_ref=builtin [answers_ref=deployer-answers.json]"
    )


def k8s_deployer(env: Environment) -> EnvPackBinding:
    """The env's Kubernetes deployer binding; anything else is a Conflict naming the fix."""
    binding = env.pack("deployer")
    env_id = env.environment_id
    if binding is None:
        raise Conflict(
            f"environment `{env_id}` has no deployer binding, so it cannot be rendered to "
            f"Kubernetes objects; run `op env-packs add slot=deployer kind={K8S_KIND} "
            "pack_ref=builtin …`",
            hint=bind_hint(env_id),
        )
    path, version = split_kind(binding.kind)
    if path != K8S_DEPLOYER:
        raise Conflict(
            f"environment `{env_id}` is bound to deployer `{binding.kind}`; only the "
            f"`{K8S_DEPLOYER}` deployer env-pack renders Kubernetes objects; rebind with "
            f"`op env-packs add slot=deployer kind={K8S_KIND} pack_ref=builtin …`",
            hint=bind_hint(env_id),
        )
    if version and not version.startswith("1."):
        raise Conflict(
            f"env-pack `{K8S_DEPLOYER}` pins version `{version}` but the native handler "
            f"implements `{SUPPORTED}`",
            hint=bind_hint(env_id),
        )
    return binding


def stages_dev_store(env: Environment) -> bool:
    """True when the secrets slot is bound to the dev-store (Secret + init container)."""
    binding = env.pack("secrets")
    if binding is None:
        return False
    path, _ = split_kind(binding.kind)
    if path == DEV_STORE:
        return True
    if path == VAULT:
        raise NotYetImplemented(
            f"secrets backend `{binding.kind}` is not implemented by this deployer; only "
            f"`{DEV_STORE}` reaches the pods",
            hint=f"rebind: op env-packs add slot=secrets kind={DEV_STORE}@0.1.0 pack_ref=builtin",
        )
    raise Conflict(
        f"unknown secrets backend kind `{binding.kind}` (expected `{DEV_STORE}@…`)",
        hint=f"rebind: op env-packs add slot=secrets kind={DEV_STORE}@0.1.0 pack_ref=builtin",
    )
