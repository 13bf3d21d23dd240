"""The tunneled worker: cold boot behind cloudflared, and the Telegram webhook round trip.

Boot: exec of `greentic-start start --cloudflared on --cloudflared-binary <fake>` → the
`public URL` line printed AND `/healthz` 200 on the loopback admin listener, for webchat-bot
with a Telegram endpoint linked and its bot token in the dev-store (scenarios/tunnel.py's env,
authored in-process). In the same run, boots interleaved: the untunneled cold boot of the same
bundle (exec → first /healthz 200, as bench/cold_boot.py) and of the same Telegram env. Every
boot starts from a fresh env dir and pulls the bundle over loopback HTTP.
Round trip: an Update POSTed to the tunnel's edge with the endpoint's secret → the fake Bot API
recording the reply's sendMessage (its own timestamp), sequential, bounded in count and time.
The fakes (harness.fakes) stand in for Cloudflare and Telegram; nothing leaves loopback.
Usage: python bench/tunnel.py [--runs 15] [--updates 200] [--budget 60].
Target: tunneled boot median ≤ 1.3× the untunneled one.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support.boot import (
    ENV_ID,
    Worker,
    author,
    env_files,
    free_port,
    plain_boot,
    seed_env_dir,
    serve_fixtures,
    spread,
)
from greentic.deployer import messaging
from greentic.secrets import DevStore
from greentic.store.envstore import Store
from greentic.store.layout import DEV_SECRETS_REL
from harness.fakes import bot_api, edges
from scenarios import tunnel as scenario

TARGET_RATIO = 1.3
BUNDLE = scenario.BUNDLE_ID
BOOT_DEADLINE_S = 20.0
SEND_DEADLINE_S = 10.0  # one Update → its sendMessage
SEND_POLL_S = 0.005  # reading the fake's record; the figure is the fake's own timestamp
HTTP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Internet:
    """The fakes the worker faces: Cloudflare's edge (a directory of edges) and Telegram."""

    cloudflared: Path
    registry: edges.EdgeRegistry
    api: bot_api.FakeBotApi

    def worker_env(self) -> dict[str, str]:
        return {
            **self.registry.env(),
            scenario.API_BASE_ENV: self.api.api_base,
            scenario.READY_TIMEOUT_ENV: "0",  # no HEAD probe toward the real internet
        }


def author_bot(store_root: Path, uri: str, token: str) -> dict[str, bytes]:
    """Env `local` as seeds/000 leaves it: webchat-bot routed, a Telegram endpoint linked to it
    (webhook secret minted into the dev-store), the bot token sealed; the files a pod gets."""
    author(store_root, uri, bundle=BUNDLE)
    store = Store(store_root)
    added = messaging.add(
        store,
        messaging.EndpointAddPayload(
            environment_id=ENV_ID, name=scenario.ENDPOINT, provider_type=scenario.PROVIDER_TYPE
        ),
    )
    messaging.link_bundle(
        store,
        messaging.LinkBundlePayload(
            environment_id=ENV_ID, endpoint_id=added["endpoint_id"], bundle_id=BUNDLE
        ),
    )
    DevStore(store.paths(ENV_ID).dev_secrets).put(f"secret://{ENV_ID}/{scenario.TOKEN_PATH}", token)
    return env_files(store_root, DEV_SECRETS_REL)


def tunneled_worker(store_root: Path, files: dict[str, bytes], net: Internet) -> Worker:
    seed_env_dir(store_root, files)
    args = ("--cloudflared", "on", "--cloudflared-binary", str(net.cloudflared))
    return Worker(store_root, free_port(), args=args, env=net.worker_env())


def tunneled_boot(store_root: Path, files: dict[str, bytes], net: Internet) -> float:
    """Seconds from exec to both the `public URL` line and /healthz 200 on the admin port."""
    with tunneled_worker(store_root, files, net) as worker:
        _, admin = worker.line(scenario.ADMIN, BOOT_DEADLINE_S)
        healthy = worker.healthz(int(admin.group(1).rsplit(":", 1)[1]), BOOT_DEADLINE_S)
        announced, _ = worker.line(scenario.PUBLIC_URL, BOOT_DEADLINE_S)
        return max(healthy, announced)


def boots(
    runs: int,
    plain: tuple[Path, dict[str, bytes]],
    bot: tuple[Path, dict[str, bytes]],
    net: Internet,
) -> dict[str, list[float]]:
    """`runs` boots of each kind, interleaved so a load change on the machine hits all three."""
    env = net.worker_env()
    kinds: dict[str, Callable[[], float]] = {
        "untunneled": lambda: plain_boot(*plain, env=env, deadline_s=BOOT_DEADLINE_S),
        "untunneled + Telegram": lambda: plain_boot(*bot, env=env, deadline_s=BOOT_DEADLINE_S),
        "tunneled": lambda: tunneled_boot(*bot, net),
    }
    for boot in kinds.values():
        boot()  # warm the page cache once
    seen: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(runs):
        for kind, boot in kinds.items():
            seen[kind].append(boot())
    return seen


# -- webhook round trip ---------------------------------------------------------------------
def post_update(edge: edges.Edge, path: str, secret: str, update: dict[str, Any]) -> int:
    """POST one Update through the edge as Telegram does (tunnel Host, secret header)."""
    headers = {"Host": edge.host, "Content-Type": "application/json"}
    headers[bot_api.SECRET_HEADER] = secret
    conn = http.client.HTTPConnection("127.0.0.1", edge.port, timeout=HTTP_TIMEOUT_S)
    try:
        conn.request("POST", path, body=json.dumps(update).encode(), headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def nth_send(api: bot_api.FakeBotApi, n: int, deadline: float) -> dict[str, Any]:
    """The fake's record of the n-th sendMessage (1-based), once it exists."""
    while True:
        sends = [c for c in api.state()["calls"] if c["method"] == "sendMessage"]
        if len(sends) >= n:
            record: dict[str, Any] = sends[n - 1]
            return record
        if time.monotonic() > deadline:
            raise SystemExit(f"no sendMessage #{n} at the fake Bot API within the deadline")
        time.sleep(SEND_POLL_S)


@dataclass
class RoundTrips:
    first: float  # the first Update after boot: lazy imports, first flow run
    replies: list[float]  # POST → sendMessage recorded, the rest
    acks: list[float]  # POST → the webhook's 200


def round_trips(
    store_root: Path, files: dict[str, bytes], net: Internet, updates: int, budget_s: float
) -> RoundTrips:
    """Boot the tunneled worker once, then deliver `updates` Updates one by one (within
    `budget_s`), each after the previous reply was recorded."""
    net.api.reset()
    with tunneled_worker(store_root, files, net) as worker:
        _, public = worker.line(scenario.PUBLIC_URL, BOOT_DEADLINE_S)
        url = public.group(1)
        net.api.wait_calls("setWebhook", timeout=BOOT_DEADLINE_S)
        hook = net.api.webhook(scenario.BOT) or {}
        if not str(hook.get("url", "")).startswith(url):
            raise SystemExit(f"the webhook registered is {hook.get('url')!r}, not under {url}")
        edge = net.registry.wait(url)
        path, secret = url_path(hook["url"]), str(hook["secret_token"])
        want = {"chat_id": scenario.CHAT_ID, "text": scenario.EXPECT_REPLY}
        replies: list[float] = []
        acks: list[float] = []
        stop_at = time.monotonic() + budget_s
        for n in range(1, updates + 1):
            if time.monotonic() > stop_at:
                break
            posted, t0 = time.time(), time.perf_counter()
            status = post_update(edge, path, secret, scenario.update(n))
            acks.append(time.perf_counter() - t0)
            if status != 200:
                raise SystemExit(f"Update #{n}: the webhook answered HTTP {status}")
            sent = nth_send(net.api, n, time.monotonic() + SEND_DEADLINE_S)
            if sent["params"] != want or not sent["ok"]:
                raise SystemExit(f"Update #{n}: sendMessage {sent['params']} (want {want})")
            replies.append(float(sent["at"]) - posted)
    if not replies:
        raise SystemExit(f"no Update answered within --budget {budget_s}s")
    return RoundTrips(first=replies[0], replies=replies[1:], acks=acks[1:])


def url_path(url: str) -> str:
    return urlsplit(url).path or "/"


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def leftovers(marker: str, pids: list[int]) -> list[str]:
    """Processes still running that this bench started (their argv names `marker`, or one of
    `pids`): `pid argv` each."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if marker in argv or int(entry.name) in pids:
            found.append(f"{entry.name} {argv.strip()}")
    return found


def report(seen: dict[str, list[float]], trips: RoundTrips, runs: int) -> bool:
    """Print the figures; whether the boot target is met."""
    base, bot, tunneled = (statistics.median(seen[k]) for k in seen)
    ratio = tunneled / base
    print(
        f"tunneled cold boot: exec → `public URL` printed and admin /healthz 200 ({BUNDLE}, "
        f"Telegram endpoint, fake cloudflared; {runs} runs each, interleaved)"
    )
    for kind, samples in seen.items():
        print(f"  {kind:<23} {spread(samples)}")
    print(f"  ratio tunneled / untunneled: {ratio:.2f}×  (vs untunneled + Telegram: ", end="")
    print(f"{tunneled / bot:.2f}×)")
    print(f"  target ≤ {TARGET_RATIO}×: {'met' if ratio <= TARGET_RATIO else 'MISSED'}")
    replies, acks = trips.replies, trips.acks
    print(
        f"webhook round trip: Update POSTed through the edge with the endpoint's secret → "
        f"sendMessage recorded by the fake Bot API ({len(replies)} updates after one warm-up, "
        "sequential, loopback)"
    )
    print(f"  first Update after boot  {trips.first * 1000:7.1f} ms")
    if len(replies) >= 2:
        print(
            f"  reply     p50 {statistics.median(replies) * 1000:6.1f} ms  p99 "
            f"{p99(replies) * 1000:6.1f} ms  (min {min(replies) * 1000:.1f}, "
            f"max {max(replies) * 1000:.1f})"
        )
        print(
            f"  webhook   p50 {statistics.median(acks) * 1000:6.1f} ms  p99 "
            f"{p99(acks) * 1000:6.1f} ms  (POST → 200; the reply is sent after it)"
        )
    return ratio <= TARGET_RATIO


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds for the round trips")
    args = parser.parse_args()
    httpd, http_port = serve_fixtures()
    uri = f"http://127.0.0.1:{http_port}/{BUNDLE}.gtbundle"
    with tempfile.TemporaryDirectory(prefix="gtc-bench-tunnel-") as tmp:
        work = Path(tmp)
        token = scenario.new_bot_token()
        registry = edges.EdgeRegistry(work / "edges")
        with bot_api.FakeBotApi(
            tokens={scenario.BOT: token}, logs_dir=work, edge_dir=registry.directory
        ) as api:
            net = Internet(edges.install_cloudflared(work / "bin"), registry, api)
            plain_root, bot_root = work / "plain", work / "bot"
            author(plain_root, uri, bundle=BUNDLE)
            plain = (plain_root, env_files(plain_root))
            bot = (bot_root, author_bot(bot_root, uri, token))
            seen = boots(args.runs, plain, bot, net)
            trips = round_trips(*bot, net, args.updates + 1, args.budget)
            fake_pid = api.process.pid
        httpd.shutdown()
        left = leftovers(tmp, [fake_pid])
    met = report(seen, trips, args.runs)
    print(f"  processes left behind: {'; '.join(left) if left else 'none'}")
    return 0 if met and not left else 1


if __name__ == "__main__":
    raise SystemExit(main())
