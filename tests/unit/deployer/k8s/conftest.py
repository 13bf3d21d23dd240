"""Fixtures of the k8s unit tests: the seed-shaped environments and a fresh FakeCluster."""

from __future__ import annotations

import pytest

from greentic.deployer.k8s.fake import FakeCluster
from greentic.spec.environment import Environment

from . import envs


@pytest.fixture
def m2() -> Environment:
    return envs.m2_env()


@pytest.fixture
def webchat() -> Environment:
    return envs.webchat_env()


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster()
