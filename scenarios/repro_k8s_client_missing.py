"""Row 1: `gtc op env reconcile` from an install without the `[k8s]` extra is refused.

How "without the extra" is made honest and cheap (docs/decisions.md): a real second install —
`python -m venv --without-pip` under the run's work dir whose site-packages links every
distribution of this checkout's venv EXCEPT `kubernetes` (package and dist-info), plus a
`gtc` launcher like the console script. `kubernetes` is then absent from that interpreter's
path, not hidden by an import hook; building it takes well under a second, where `pip
install` of the deps would need the network and ~130 MB for kubernetes alone. The fix links
the same `kubernetes` distribution in — the files `pip install 'greentic[k8s]'` puts there.

Symptom: the reconcile exits 1 with exactly SPEC §6.4's conflict. Cause: in that install
`kubernetes` cannot be found while greentic's metadata requires it for the `k8s` extra.
Fix: install the extra. Recovered: the same reconcile gets past the client — it loads the
kubeconfig and dials the context's API server. No track here gives the CLI an API server
(the pod tracks reconcile through the product's Cluster seam, which never needs the client),
so the context points at a loopback port the run holds closed, and "proceeds" is asserted
as the reconcile's own `cannot reach the cluster: context … at …` — the client at work.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from greentic.deployer.k8s.errors import MISSING_CLIENT
from harness.context import ScenarioContext, ScenarioResult
from harness.op import Gtc, OpFailed, operator_env, parse_error
from harness.rendered import bind_deployer_args
from harness.tracks import Capability
from scenarios import _common as common
from scenarios import _repro as repro

NEEDS: tuple[Capability, ...] = ()  # the operator's install, whatever the track

ROW = repro.Row(
    name="k8s-client-missing",
    symptom=f"`conflict: {MISSING_CLIENT}`",
    cause="`op env reconcile` from an install without the `[k8s]` extra (upstream: a binary "
    "built without the k8s-client feature)",
    fix="`pip install 'greentic[k8s]'`",
)

ENV_ID = "local"
CONTEXT = "gtc-repro"
CLIENT = "kubernetes"
SITE = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
GTC_LAUNCHER = "import sys\nfrom greentic.cli.main import gtc\nsys.exit(gtc())\n"
INSPECT = (
    "import importlib.metadata as m, importlib.util as u, json\n"
    "print(json.dumps({'found': u.find_spec('kubernetes') is not None,\n"
    "  'requires': [r for r in m.requires('greentic') or [] if 'k8s' in r]}))\n"
)


def run(ctx: ScenarioContext) -> ScenarioResult:
    ctx.step("prepare: an install of greentic without the [k8s] extra (a second venv)")
    install = without_client(ctx.work_dir / "install-without-k8s")
    server = closed_server(ctx)
    kubeconfig = write_kubeconfig(ctx.work_dir / "kubeconfig", server)
    env = operator_env(ctx.work_dir, {"KUBECONFIG": str(kubeconfig)})
    cli = Gtc(ctx.store_root, env=env, artifacts=ctx.artifacts, binary=str(install / "bin/gtc"))
    ctx.step(f"prepare: author env `{ENV_ID}` bound to the k8s deployer")
    common.create_env(ctx, cli, ENV_ID)
    answers = common.answers(ctx, "k8s-deployer", {"runtime_image": "greentic/runtime:repro"})
    cli.op(*bind_deployer_args(ENV_ID, answers))

    repro.symptom(ctx, f"`gtc op env reconcile {ENV_ID}` is refused")
    kind, message = reconcile_error(cli)
    ctx.check(
        f"exact error: conflict: {MISSING_CLIENT}",
        (kind, message) == ("conflict", MISSING_CLIENT),
        f"got ({kind}) {message}",
    )

    repro.cause(ctx, f"this install has no `{CLIENT}`, which the `k8s` extra requires")
    found = inspect(install)
    ctx.check(
        f"`{CLIENT}` is not importable in that install",
        found.get("found") is False,
        f"importlib.util.find_spec({CLIENT!r}) → {'found' if found.get('found') else 'None'}",
        evidence={"install-inspect.json": found},
    )
    listed = found.get("requires")
    requires = [str(r) for r in listed] if isinstance(listed, list) else []
    ctx.check(
        "greentic requires it for the `k8s` extra",
        any(r.startswith(CLIENT) for r in requires),
        f"Requires-Dist: {'; '.join(requires) or 'none'}",
    )

    repro.fix(ctx, "install the extra: pip install 'greentic[k8s]'", lambda: add_client(install))

    repro.recovered(ctx, f"the same reconcile loads context `{CONTEXT}` and dials {server}")
    kind, message = reconcile_error(cli)
    ctx.check(
        "the missing-client conflict is gone",
        message != MISSING_CLIENT,
        f"now: ({kind}) {message}",
    )
    dialed = f"cannot reach the cluster: context `{CONTEXT}` at {server}"
    ctx.check(
        "the reconcile reached the cluster through the client",
        kind == "conflict" and message is not None and message.startswith(dialed),
        message or "no error",
    )
    return ctx.result()


def without_client(venv: Path) -> Path:
    """A venv whose site-packages is this one's minus the `kubernetes` distribution."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    here, there = Path(sys.prefix) / SITE, venv / SITE
    for entry in sorted(here.iterdir()):
        if not is_client(entry.name):
            (there / entry.name).symlink_to(entry)
    launcher = venv / "bin" / "gtc"
    launcher.write_text(f"#!{venv / 'bin' / 'python'}\n{GTC_LAUNCHER}")
    launcher.chmod(0o755)
    return venv


def is_client(name: str) -> bool:
    return name == CLIENT or (name.startswith(f"{CLIENT}-") and name.endswith(".dist-info"))


def add_client(venv: Path) -> None:
    """Put the `kubernetes` distribution in place, as `pip install 'greentic[k8s]'` does."""
    here = Path(sys.prefix) / SITE
    for entry in sorted(here.iterdir()):
        if is_client(entry.name):
            (venv / SITE / entry.name).symlink_to(entry)


def inspect(venv: Path) -> dict[str, object]:
    """What the install's own interpreter says about `kubernetes` and greentic's extras."""
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", INSPECT], capture_output=True, text=True, check=False
    )
    try:
        doc = json.loads(done.stdout)
    except ValueError:
        return {"error": done.stderr.strip()[-300:]}
    return doc if isinstance(doc, dict) else {"error": done.stdout}


def closed_server(ctx: ScenarioContext) -> str:
    """`https://127.0.0.1:P` where P is bound by this run but never listens (refused)."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    ctx.stack.callback(holder.close)
    return f"https://127.0.0.1:{holder.getsockname()[1]}"


def write_kubeconfig(path: Path, server: str) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server}}],
        "users": [{"name": CONTEXT, "user": {}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT}}],
        "current-context": CONTEXT,
    }
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    return path


def reconcile_error(cli: Gtc) -> tuple[str | None, str | None]:
    """`gtc op env reconcile local`: its error's (kind, message); (None, None) if it applied."""
    try:
        cli.op("env", "reconcile", ENV_ID)
    except OpFailed as exc:
        kind, message, _ = parse_error(exc.stderr)
        return kind, message
    return None, None
