"""Rendered objects as YAML: one document per object, or a directory ready for `kubectl apply -f`.

`write_dir(objs, out)` writes `NN-<kind>-<name>.yaml` numbered in apply order (kubectl reads a
directory in lexical order) into a staging directory and swaps it in whole, so a reader never
sees a mix of two renders and files of revisions no longer rendered disappear. Called by
`op env render --out`; `dump` is also used by tests for byte-for-byte determinism.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from greentic.deployer.k8s.bodies import Body
from greentic.errors import InvalidArgument, IoError
from greentic.store.atomic import fsync_dir

OUR_FILE = re.compile(r"^\d{2,}-[a-z]+-[a-z0-9.-]+\.yaml$")


_Base: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when built in: ~5x faster


class _Dumper(_Base):  # type: ignore[misc]
    """Never emit anchors/aliases: every manifest must stand alone."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """Multi-line strings (environment.json, scripts) as readable `|` blocks when possible."""
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(obj: Body) -> str:
    """One object as block YAML, keys in render order (deterministic)."""
    return yaml.dump(
        obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )


def dump_all(objs: Sequence[Body]) -> str:
    """A multi-document stream (`---` between objects)."""
    return "".join(f"---\n{dump(obj)}" for obj in objs)


def file_names(objs: Sequence[Body]) -> list[str]:
    """`00-namespace-gtc-local.yaml`, …; the index width grows past 100 objects."""
    width = max(2, len(str(len(objs) - 1)))
    return [
        f"{i:0{width}d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        for i, obj in enumerate(objs)
    ]


def _check_out(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise InvalidArgument(f"--out {out} is a file; pass a directory")
    foreign = sorted(p.name for p in out.iterdir() if not OUR_FILE.match(p.name))
    if foreign:
        raise InvalidArgument(
            f"--out {out} holds files that render did not write (`{foreign[0]}`); "
            "pass a new or empty directory, or one that only holds a previous render"
        )


def write_dir(objs: Sequence[Body], out: Path) -> list[Path]:
    """Replace `out` with one YAML file per object; the dev-store Secret is 0600."""
    _check_out(out)
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    except OSError as exc:
        raise IoError(f"cannot write --out {out}: {exc.strerror}") from None
    try:
        os.chmod(stage, 0o755)
        for name, obj in zip(file_names(objs), objs, strict=True):
            mode = 0o600 if obj["kind"] == "Secret" else 0o644
            fd = os.open(stage / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(dump(obj))
                fh.flush()
                os.fsync(fh.fileno())
        fsync_dir(stage)
        target = parent / out.name
        if target.exists():
            old = parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(target, old)
            os.rename(stage, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(stage, target)
        fsync_dir(parent)
    except OSError as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise IoError(f"cannot write --out {out}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return [out / name for name in file_names(objs)]
