"""Data model of the store and its documents: pydantic v2 models with extra="forbid".

Callers import modules (`from greentic.spec import environment`) or the names below. The names
are looked up on first use, so importing a pydantic-free module of this package (`rules`,
`documents`, `validation`) does not import pydantic (the `env show` path, #16).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from greentic.spec.environment import (
        BundleDeployment,
        Environment,
        EnvPackBinding,
        HostConfig,
        MessagingEndpoint,
        Revision,
        RouteBinding,
        TenantSelector,
        TrafficEntry,
        TrafficSplit,
    )
    from greentic.spec.runtime_config import RuntimeConfig, RuntimeRevision

__all__ = [
    "BundleDeployment",
    "EnvPackBinding",
    "Environment",
    "HostConfig",
    "MessagingEndpoint",
    "Revision",
    "RouteBinding",
    "RuntimeConfig",
    "RuntimeRevision",
    "TenantSelector",
    "TrafficEntry",
    "TrafficSplit",
]
_RUNTIME_CONFIG = ("RuntimeConfig", "RuntimeRevision")


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = "runtime_config" if name in _RUNTIME_CONFIG else "environment"
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
