"""Start-up trims (#16): `gtc op env show` imports no pydantic, and no start imports
`importlib.metadata`.

`env show <id>` validates the store with the compiled validators (greentic.spec.documents).
pydantic's plugin loader and python-ulid import `importlib.metadata` (~15-20 ms of each
start); the console scripts turn plugin discovery off (greentic.cli.startup) and ids are
minted lazily. Checked with `-X importtime` on the real console scripts (`env show` with an
inline payload still goes through pydantic), plus the control where a user keeps pydantic's
discovery (`PYDANTIC_DISABLE_PLUGINS` naming one plugin) and it comes back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bundle_support import FIXTURES, Distributor, Route

from tests.integration.test_worker_process import author

BIN = Path(sys.executable).parent
UNWANTED = ("importlib.metadata", "pydantic.plugin._loader", "ulid")
# What a pulling boot no longer imports (#16): signature checks only with trusted keys, the
# worker's own replies instead of starlette's, a plain retry loop instead of tenacity.
BOOT_UNWANTED = ("cryptography", "starlette", "tenacity")


def imported(importtime: str) -> set[str]:
    """Module names from `-X importtime` lines (`import time: self | cumulative | name`)."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in importtime.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


def authored(tmp_path: Path, uri: str) -> Path:
    """Env `local` routing one revision of webchat-bot, pulled from `uri`, nothing pulled yet
    (the environment.json a pod receives: test_worker_process's `author`)."""
    root = tmp_path / "store"
    author(root, "webchat-bot", uri=uri)
    return root


def imported_names_free(names: set[str]) -> bool:
    assert "greentic.store.layout" in names, "importtime output not parsed"
    assert not names & set(UNWANTED), sorted(names & set(UNWANTED))
    return True


def env_show(root: Path, *args: str, **extra: str) -> set[str]:
    environ = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    cmd = [sys.executable, "-X", "importtime", str(BIN / "gtc"), "op", "--store-root", str(root)]
    out = subprocess.run(
        [*cmd, "env", "show", *(args or ("local",))],
        env={**environ, **extra},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["result"]["environment"]["environment_id"] == "local"
    return imported(out.stderr)


def test_env_show_imports_no_pydantic(tmp_path: Path) -> None:
    root = authored(tmp_path, "http://127.0.0.1:9/unused.gtbundle")
    names = env_show(root)
    assert imported_names_free(names)
    assert "pydantic_core" in names  # the compiled validators ran
    assert not {n for n in names if n.split(".")[0] == "pydantic"}


def test_env_show_with_a_payload_imports_no_metadata_reader(tmp_path: Path) -> None:
    root = authored(tmp_path, "http://127.0.0.1:9/unused.gtbundle")
    names = env_show(root, "environment_id=local")
    assert "greentic.deployer.common" in names  # the payload model ran
    assert imported_names_free(names)


def test_a_user_keeping_pydantic_plugins_gets_discovery_back(tmp_path: Path) -> None:
    """The control: the same check fails when pydantic's own loader runs."""
    root = authored(tmp_path, "http://127.0.0.1:9/unused.gtbundle")
    names = env_show(root, "environment_id=local", PYDANTIC_DISABLE_PLUGINS="some-plugin")
    assert {"importlib.metadata", "pydantic.plugin._loader"} <= names


def test_a_worker_boot_that_pulls_imports_no_metadata_reader(tmp_path: Path) -> None:
    with Distributor() as dist:
        body = (FIXTURES / "webchat-bot.gtbundle").read_bytes()
        root = authored(tmp_path, dist.add("/b.gtbundle", Route(body=body)))
        environ = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
        environ |= {"PORT": "0", "GREENTIC_GATEWAY_LISTEN_ADDR": "127.0.0.1"}
        environ |= {"PYTHONPROFILEIMPORTTIME": "1", "PYTHONUNBUFFERED": "1"}
        cmd = [str(BIN / "greentic-start"), "start", "--env", "local", "--store-root", str(root)]
        err_path = tmp_path / "stderr.txt"
        with err_path.open("w") as err:
            proc = subprocess.Popen(cmd, env=environ, stdout=subprocess.PIPE, stderr=err, text=True)
            try:
                assert proc.stdout is not None
                banner = proc.stdout.readline()
                assert banner.startswith("serving 1 revision(s)"), (banner, err_path.read_text())
                assert dist.routes["/b.gtbundle"].hits == 1
            finally:
                proc.send_signal(signal.SIGTERM)
                deadline = time.monotonic() + 20
                while proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.05)
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
    names = imported(err_path.read_text())
    assert imported_names_free(names)
    assert not {n for n in names if n.split(".")[0] in BOOT_UNWANTED}
