from __future__ import annotations

from typing import Any

import pytest

from greentic.deployer.k8s import answers
from greentic.deployer.k8s.answers import DEFAULT_RUNTIME_IMAGE, Ingress, K8sAnswers
from greentic.deployer.k8s.errors import InvalidAnswers
from greentic.errors import Conflict


def reason(doc: Any) -> str:
    with pytest.raises(InvalidAnswers) as info:
        answers.parse(doc)
    assert isinstance(info.value, Conflict)
    assert str(info.value) == f"invalid binding answers: {info.value.reason}"
    return info.value.reason


def test_defaults() -> None:
    assert answers.parse({}) == K8sAnswers()
    assert answers.parse(None) == K8sAnswers()
    got = answers.parse({})
    assert got.runtime_image == DEFAULT_RUNTIME_IMAGE
    assert got.router_replicas == 2
    assert got.tunnel == "off"
    assert got.namespace_for("Prod.EU_west") == "gtc-prod-eu-west-eb74f49e"


def test_null_and_empty_mean_default() -> None:
    keys = ["kubeconfig_context", "namespace", "runtime_image", "router_replicas", "tunnel"]
    assert answers.parse(dict.fromkeys(keys, "")) == K8sAnswers()
    assert answers.parse(dict.fromkeys(answers.KEYS)) == K8sAnswers()


def test_seed_answers() -> None:
    got = answers.parse(
        {
            "runtime_image": "ghcr.io/greenticai/greentic-start-distroless:develop",
            "tunnel": "cloudflared",
        }
    )
    assert got.runtime_image == "ghcr.io/greenticai/greentic-start-distroless:develop"
    assert got.tunnel == "cloudflared"


def test_unknown_key_is_rejected_first() -> None:
    assert reason({"bogus_key": 1, "router_replicas": 1}) == "unknown answer key `bogus_key`"


def test_not_an_object() -> None:
    assert reason(["x"]) == "answers must be a JSON object"
    assert reason("x") == "answers must be a JSON object"


@pytest.mark.parametrize("value", [1, "1", 0, "0"])
def test_router_replicas_below_two(value: Any) -> None:
    n = int(value)
    assert reason({"router_replicas": value}) == (
        f"router_replicas must be >= 2 (HA requirement), got {n}"
    )


@pytest.mark.parametrize(("value", "want"), [("3", 3), (5, 5), ("+4", 4), (2, 2)])
def test_router_replicas_accepted(value: Any, want: int) -> None:
    assert answers.parse({"router_replicas": value}).router_replicas == want


def test_router_replicas_bad_values() -> None:
    assert reason({"router_replicas": "two"}) == (
        "router_replicas `two` is not a valid u32: invalid digit found in string"
    )
    assert reason({"router_replicas": -3}) == (
        "router_replicas `-3` is not a valid u32: invalid digit found in string"
    )
    assert reason({"router_replicas": "99999999999"}) == (
        "router_replicas `99999999999` is not a valid u32: number too large to fit in target type"
    )
    assert (
        reason({"router_replicas": True}) == "router_replicas must be a string or number, got true"
    )
    assert reason({"router_replicas": [2]}) == "router_replicas must be a string or number, got [2]"


@pytest.mark.parametrize("bad", ["Prod", "-x", "x-", "a_b", "a" * 64, "a.b"])
def test_bad_namespace(bad: str) -> None:
    assert reason({"namespace": bad}) == f"namespace `{bad}` is not a valid RFC 1123 label"


def test_good_namespace_is_used_verbatim() -> None:
    got = answers.parse({"namespace": "team-a"})
    assert got.namespace_for("local") == "team-a"


def test_non_string_value_is_stringified() -> None:
    assert answers.parse({"namespace": 5}).namespace == "5"


@pytest.mark.parametrize("bad", ["Greentic:Latest", "img name", "img;rm", "ghcr.io/x/y:tag!"])
def test_bad_image(bad: str) -> None:
    assert reason({"runtime_image": bad}) == f"runtime_image `{bad}` contains invalid characters"


def test_digest_image_is_fine() -> None:
    image = "ghcr.io/greenticai/start@sha256:" + "a" * 64
    assert answers.parse({"runtime_image": image}).runtime_image == image


@pytest.mark.parametrize(
    ("value", "want"), [("off", "off"), ("none", "off"), ("cloudflared", "cloudflared")]
)
def test_tunnel_values(value: str, want: str) -> None:
    assert answers.parse({"tunnel": value}).tunnel == want


@pytest.mark.parametrize("bad", ["on", "ngrok", "Cloudflared"])
def test_bad_tunnel(bad: str) -> None:
    assert (
        reason({"tunnel": bad}) == f"tunnel `{bad}` is not valid (expected `cloudflared` or `off`)"
    )


def test_oci_insecure_registries_forms() -> None:
    assert answers.parse({"oci_insecure_registries": " a:5000, ,b:1 "}).oci_insecure_registries == (
        "a:5000",
        "b:1",
    )
    assert answers.parse({"oci_insecure_registries": ["a", " ", "b "]}).oci_insecure_registries == (
        "a",
        "b",
    )
    assert reason({"oci_insecure_registries": ["a", 5]}) == (
        "oci_insecure_registries entries must be strings, got 5"
    )
    assert reason({"oci_insecure_registries": 5}) == (
        "oci_insecure_registries must be a comma-separated string or array of strings, got 5"
    )


def test_opt_in_keys() -> None:
    got = answers.parse(
        {
            "image_pull_policy": "IfNotPresent",
            "image_pull_secrets": "regcred, other",
            "ingress": {"host": "chat.example.com", "class": "nginx", "tls_secret": "chat-tls"},
        }
    )
    assert got.image_pull_policy == "IfNotPresent"
    assert got.image_pull_secrets == ("regcred", "other")
    assert got.ingress == Ingress(
        host="chat.example.com", class_name="nginx", tls_secret="chat-tls"
    )
    assert answers.parse({"ingress": {"host": "*.example.com"}}).ingress == Ingress("*.example.com")


def test_opt_in_key_errors() -> None:
    assert reason({"image_pull_policy": "Sometimes"}) == (
        "image_pull_policy `Sometimes` is not valid (expected `Always`, `IfNotPresent` or `Never`)"
    )
    assert "not a valid Secret name" in reason({"image_pull_secrets": ["Reg_Cred"]})
    assert reason({"ingress": {"host": "x.io", "path": "/"}}) == "unknown answer key `ingress.path`"
    assert "needs a `host`" in reason({"ingress": {}})
    assert reason({"ingress": "x.io"}).startswith("ingress must be an object")
    assert (
        reason({"ingress": {"host": "Bad Host"}})
        == "ingress host `Bad Host` is not a valid DNS name"
    )
