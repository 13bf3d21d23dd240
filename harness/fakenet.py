"""The fake internet a pod track puts in front of a worker pod (`Capability.FAKE_INTERNET`).

The host track runs the fake cloudflared and the fake Telegram Bot API as local processes
(scenarios/tunnel.py starts them). A pod cannot take those: its image must carry the fake
cloudflared (so the deployer's `tunnel: cloudflared` answer spawns it), the Bot API must run
where the pod reaches it, and the tunnel's edge lives inside the pod. A pod backend that can
do this implements `FakeInternetPods`; what it returns (`FakeInternet`) is the scenario's only
handle on it. harness.docker.fakenet is the docker track's. Used by scenarios/_tunnel_pods.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from harness.fakes.bot_api import BotApiControl
from harness.fakes.edges import Edge
from harness.tracks import PodWorker, RunScope


class FakeInternet(Protocol):
    """The fakes standing in for Cloudflare and Telegram in front of one env's worker pods."""

    @property
    def api(self) -> BotApiControl:
        """The fake Telegram Bot API's control plane (calls, webhooks, deliveries)."""
        ...

    @property
    def api_base(self) -> str:
        """What the worker pods have as `GREENTIC_TELEGRAM_API_BASE` (in-network address)."""
        ...

    def deployer_answers(self, insecure: Sequence[str]) -> dict[str, Any]:
        """The k8s deployer answers that run the worker behind the fake tunnel (runtime image
        carrying the fake cloudflared, `tunnel: cloudflared`): the env-manifest's pair file."""
        ...

    def edge(self, worker: PodWorker, url: str, *, deadline_s: float) -> Edge:
        """The fake cloudflared edge of `url` in `worker`'s pod (its `port` is the pod's own),
        once recorded; from then on the fake Bot API delivers to it over the pod network."""
        ...


@runtime_checkable
class FakeInternetPods(Protocol):
    """A pod backend that can put the fake internet in front of its worker pods."""

    def fake_internet(self, scope: RunScope, *, tokens: Mapping[str, str]) -> FakeInternet:
        """Start the fake Bot API (knowing `tokens`, label → bot token) and arrange that the
        env's worker pods spawn the fake cloudflared and reach that Bot API; before reconcile."""
        ...
