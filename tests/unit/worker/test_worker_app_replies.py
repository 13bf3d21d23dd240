"""The reply body built with per-tenant heads equals the plain encoding of `ingress.replies`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from greentic.worker import ingress
from greentic.worker.app import json_response, replies_response


@pytest.mark.parametrize(
    "items",
    [
        [{"text": 'Hello é \u2028 "quoted" \\ back'}],
        [],
        [1, "x", {"a": [1, 2, None]}],
    ],
)
@pytest.mark.parametrize("tenant", ["tenant-default", 'we"ird é'])
def test_replies_response_matches_plain_encoding(items: list[Any], tenant: str) -> None:
    fast = replies_response(items, tenant)
    plain = json_response(ingress.replies(items, tenant))
    assert fast.body == plain.body
    assert json.loads(fast.body) == ingress.replies(items, tenant)
    assert fast.raw_headers == [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(fast.body)).encode()),
    ]
