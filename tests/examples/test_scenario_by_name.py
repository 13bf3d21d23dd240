"""Example: run a whole scenario by name on the selected track and assert on its result.

`pytest tests/examples -k scenario --track docker`; the evidence is in `result.artifacts`.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.context import ScenarioResult


def test_a_tampered_bundle_never_serves(scenario: Callable[..., ScenarioResult]) -> None:
    result = scenario("digest-mismatch")
    assert result.ok, result.summary()
    assert any("digest" in check.name for check in result.checks)
    assert (result.artifacts / "result.json").is_file()
