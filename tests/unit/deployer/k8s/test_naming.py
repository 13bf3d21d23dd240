from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from greentic.deployer.k8s import naming

LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
# SPEC §2: env ids are non-empty ASCII letters/digits/`.`/`_`/`-` (never `.`/`..`); the
# namespace derivation must hold for any string, so the property test also feeds others.
ENV_IDS = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", min_size=1
)


def test_upstream_examples() -> None:
    assert naming.namespace_for_env("local") == "gtc-local"
    assert naming.namespace_for_env("prod") == "gtc-prod"
    assert naming.namespace_for_env("prod-eu-west") == "gtc-prod-eu-west"
    assert naming.namespace_for_env("Prod.EU_west") == "gtc-prod-eu-west-eb74f49e"
    assert naming.namespace_for_env("...") == "gtc-ab5df625"
    assert naming.namespace_for_env("Staging") == "gtc-staging-a8e7ac92"
    assert naming.namespace_for_env("my_env") == "gtc-my-env-05f56f6c"
    assert naming.namespace_for_env("a" * 55 + "xxxxx") == "gtc-" + "a" * 50 + "-c12ca021"


def test_sanitize_examples() -> None:
    assert naming.sanitize("Prod.EU_west") == "prod-eu-west"
    assert naming.sanitize("x-") == "x"
    assert naming.sanitize("...") == ""
    assert naming.sanitize("a__b") == "a--b"


def test_length_boundary() -> None:
    assert naming.namespace_for_env("a" * 59) == "gtc-" + "a" * 59
    long = naming.namespace_for_env("a" * 60)
    assert long.startswith("gtc-" + "a" * 50 + "-") and len(long) == 63


def test_ids_differing_past_char_50_stay_distinct() -> None:
    a = naming.namespace_for_env("a" * 55 + "xxxxx")
    b = naming.namespace_for_env("a" * 55 + "yyyyy")
    assert a != b and len(a) <= 63 and len(b) <= 63


def test_truncation_trims_trailing_dash() -> None:
    ns = naming.namespace_for_env("A" * 49 + "_" + "b" * 20)
    assert ns == "gtc-" + "a" * 49 + "-" + ns[-8:]


@given(ENV_IDS)
def test_namespace_is_always_a_label(env_id: str) -> None:
    ns = naming.namespace_for_env(env_id)
    assert len(ns) <= 63 and LABEL.match(ns), ns
    assert naming.is_dns1123_label(ns)


@given(st.text(min_size=1))
def test_namespace_is_a_label_for_any_text(env_id: str) -> None:
    assert naming.is_dns1123_label(naming.namespace_for_env(env_id))


@given(ENV_IDS, ENV_IDS)
def test_distinct_ids_give_distinct_namespaces(a: str, b: str) -> None:
    if a != b:
        assert naming.namespace_for_env(a) != naming.namespace_for_env(b)


@given(ENV_IDS)
def test_label_value_is_always_valid(env_id: str) -> None:
    value = naming.label_value(env_id)
    assert len(value) <= 63 and LABEL_VALUE.match(value), value


def test_label_value_keeps_valid_ids_verbatim() -> None:
    assert naming.label_value("Prod.EU_west") == "Prod.EU_west"
    assert naming.label_value("local") == "local"
    assert naming.label_value("-x") != "-x"


def test_worker_name() -> None:
    assert (
        naming.worker_name("01J8ZK3M4N5P6Q7R8S9T0V1W2X") == "gtc-worker-01j8zk3m4n5p6q7r8s9t0v1w2x"
    )
