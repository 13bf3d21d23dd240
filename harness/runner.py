"""Run one scenario module on one track: build its context, call `run(ctx)`, always clean up.

The one entry both `demo.py` and pytest use, so a scenario is the same code everywhere.
A scenario declares the capabilities it needs (`NEEDS`); on a track that lacks one the run is
skipped with the reason (`result.skipped`) before anything is built. Otherwise the runner
builds the track's backend and injects it into the context. Whatever happens,
`artifacts/<run-id>/result.json` is written, the run's resources are closed (unless `keep`),
leftovers are swept by run id, and a failure becomes a `ScenarioResult` with `ok=False` and a
one-paragraph error rather than a traceback (that goes to the artifacts).
"""

from __future__ import annotations

import atexit
import traceback
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType
from typing import Protocol

from greentic.errors import GreenticError
from harness import reap, tracks
from harness.artifacts import Artifacts, default_root
from harness.context import (
    REPO_ROOT,
    QuietReporter,
    Reporter,
    ScenarioContext,
    ScenarioResult,
    new_run_id,
)
from harness.errors import HarnessError
from harness.tracks import Capability

_ACTIVE: set[str] = set()  # run ids in flight, swept at interpreter exit if still there


@atexit.register
def _reap_active() -> None:
    for run_id in sorted(_ACTIVE):
        reap.reap(run_id)


class Scenario(Protocol):
    """What a `scenarios/<name>.py` module provides (`VARIANTS` is optional)."""

    NEEDS: tuple[Capability, ...]

    def run(self, ctx: ScenarioContext) -> ScenarioResult: ...


def scenario_name(module: ModuleType) -> str:
    """`scenarios.host_pull` → `host-pull` (the demo verb and the result name)."""
    return module.__name__.rsplit(".", 1)[-1].replace("_", "-")


def variants_of(module: ModuleType) -> tuple[str | None, ...]:
    """The module's VARIANTS (e.g. ("http", "oci")), or (None,) when it has none."""
    variants: tuple[str, ...] = getattr(module, "VARIANTS", ())
    return variants or (None,)


def needs_of(module: ModuleType) -> tuple[Capability, ...]:
    """The capabilities the scenario's `NEEDS` lists (none: it runs on every track)."""
    needs: tuple[Capability, ...] = tuple(getattr(module, "NEEDS", ()))
    return needs


def tracks_for(module: ModuleType) -> list[str]:
    """The tracks that have what the scenario needs, the demo's default first."""
    return tracks.tracks_with(needs_of(module))


def default_track(module: ModuleType) -> str:
    """The track a demo verb runs on without --track: the first of `tracks_for`."""
    able = tracks_for(module)
    if not able:
        raise HarnessError(
            f"no track has what scenario `{scenario_name(module)}` needs "
            f"({', '.join(needs_of(module))})\nHint: declare the capability on a backend"
        )
    return able[0]


def skip_reason(module: ModuleType, track: str) -> str | None:
    """Why `track` cannot host the scenario (a capability it lacks), or None when it can."""
    missing = tracks.missing_capabilities(tracks.capabilities_of(track), needs_of(module))
    if not missing:
        return None
    able = tracks_for(module)
    lacks = "it" if len(missing) == 1 else "them"
    hint = f"\nHint: pass --track {able[0]}" if able else ""
    return (
        f"`{scenario_name(module)}` needs {', '.join(missing)}; "
        f"the `{track}` track lacks {lacks}{hint}"
    )


def unconfirmed(module: ModuleType, backend: tracks.WorkerBackend) -> str | None:
    """Why the built backend lacks a needed capability only its cluster can tell (it
    `confirm`s by probing, e.g. NetworkPolicy enforcement), or None: then the scenario runs."""
    confirm = getattr(backend, "confirm", None)
    missing: str | None = confirm(needs_of(module)) if callable(confirm) else None
    return None if missing is None else f"`{scenario_name(module)}` needs {missing}"


def message_of(exc: BaseException) -> str:
    """The exception's text plus any notes attached on the way up (logs, hints)."""
    return "\n".join([str(exc), *getattr(exc, "__notes__", [])])


def check_runnable(module: ModuleType, track: str, variant: str | None) -> None:
    """Raise a HarnessError naming the choices when the track is unknown or the scenario
    lacks that variant (a track without a needed capability is a skip, not an error)."""
    name = scenario_name(module)
    tracks.backend_class(track)  # UnknownTrack names the known ones
    if variant not in variants_of(module):
        named = [v for v in variants_of(module) if v]
        if not named:
            raise HarnessError(
                f"scenario `{name}` has no variants (asked for `{variant}`)\nHint: drop --variant"
            )
        raise HarnessError(
            f"scenario `{name}` has no variant `{variant}` (it has: {', '.join(named)})\n"
            f"Hint: pass --variant {named[0]}"
        )


def execute(
    module: ModuleType,
    *,
    track: str,
    variant: str | None = None,
    artifacts_root: Path | None = None,
    keep: bool = False,
    reporter: Reporter | None = None,
) -> ScenarioResult:
    """Run `module.run(ctx)` once; never raises for a scenario failure (see `result.ok`) or a
    track that lacks a needed capability (see `result.skipped`)."""
    check_runnable(module, track, variant)
    skipped = skip_reason(module, track)
    name = scenario_name(module)
    run_id = new_run_id(name, track, variant)
    artifacts = Artifacts((artifacts_root or default_root(REPO_ROOT)).resolve() / run_id)
    artifacts.dir.mkdir(parents=True, exist_ok=True)
    work_dir = artifacts.dir / "work"
    (work_dir / "store").mkdir(parents=True)
    ctx = ScenarioContext(
        name=name,
        track=track,
        variant=variant,
        run_id=run_id,
        artifacts=artifacts,
        work_dir=work_dir,
        store_root=work_dir / "store",
        keep=keep,
        stack=ExitStack(),
        reporter=reporter or QuietReporter(),
    )
    if skipped is not None:  # nothing was built: the track cannot host this scenario
        skip = ctx.result(skipped=skipped)
        artifacts.write_json("result.json", skip.to_json())
        return skip
    result: ScenarioResult | None = None
    error: str | None = None
    if not keep:
        _ACTIVE.add(run_id)
    try:
        with ctx.stack:
            ctx.worker_backend = tracks.backend_for(track)
            undetected = unconfirmed(module, ctx.worker_backend)
            result = module.run(ctx) if undetected is None else ctx.result(skipped=undetected)
    except (HarnessError, GreenticError) as exc:
        error = message_of(exc)
    except KeyboardInterrupt:
        reap.reap(run_id)  # an interrupted run keeps nothing, even with `keep`
        raise
    except Exception as exc:
        artifacts.write_text("traceback.txt", traceback.format_exc())
        error = (
            f"unexpected {type(exc).__name__}: {message_of(exc)} "
            f"(traceback in {artifacts.dir / 'traceback.txt'})"
        )
    finally:
        if not keep:
            swept = reap.reap(run_id)
            _ACTIVE.discard(run_id)
            if swept:
                artifacts.write_json("reaped.json", swept)
    if result is None or error is not None:
        result = ctx.result(error=error)
    artifacts.write_json("result.json", result.to_json())
    return result
