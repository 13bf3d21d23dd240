"""Data model of the store and its documents: pydantic v2 models with extra="forbid".

Callers import modules (`from greentic.spec import environment`) or the names below.
"""

from __future__ import annotations

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
