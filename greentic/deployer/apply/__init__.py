"""`env apply`: env-manifest → validate → resolve → plan (pure diff) → execute.

`apply(store, manifest_path, mode=…)` is the whole verb: it prints the plan and progress
through `progress` (stderr in the CLI), honours `--dry-run` (plan only), `--check` (a
conflict when anything is pending) and `--yes` (no confirmation prompt; without a TTY there
is never a prompt). Only `local` is created; a re-run of the same manifest is all no-ops.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from greentic.deployer.apply import execute, load, plan, resolve
from greentic.errors import Conflict, NotYetImplemented, StoreError
from greentic.store.envstore import Store
from greentic.store.files import read_regular

Mode = Literal["apply", "dry-run", "check"]
DEV_STORE = "greentic.secrets.dev-store"


def _staged(store: Store, r: resolve.Resolved) -> dict[str, bytes | None]:
    """The answers currently staged per slot (to diff against)."""
    out: dict[str, bytes | None] = {}
    if r.current is None:
        return out
    paths = store.paths(r.env_id)
    for rp in r.packs:
        try:
            out[rp.slot] = read_regular(paths.pack_answers(rp.slot), what="staged answers")
        except (FileNotFoundError, StoreError):
            out[rp.slot] = None  # absent or not a regular file: re-staged by the plan
    return out


def _operator_trusted(store: Store, r: resolve.Resolved) -> bool:
    from greentic.deployer.trust_root import operator_is_trusted

    return r.current is not None and operator_is_trusted(store, r.env_id)


def _check_secrets_backend(r: resolve.Resolved, p: plan.Plan) -> None:
    """Manifest secrets are written through the dev-store only."""
    if not any(s.kind == "put-secret" and s.action == "put" for s in p.steps):
        return
    manifest_kind = next((rp.kind for rp in r.packs if rp.slot == "secrets"), None)
    current = r.current.pack("secrets") if r.current is not None else None
    if manifest_kind is None and current is None and r.current is not None:
        # Refuse before step 1: the put-secret step would fail after earlier steps applied.
        raise Conflict(
            f"env `{r.env_id}` has no secrets env-pack bound; bind one with "
            "`op env-packs add` first",
            hint=f"or declare it in the manifest: packs: [{{slot: secrets, kind: "
            f"{DEV_STORE}@1.0.0, pack_ref: builtin}}]",
        )
    kind = manifest_kind or (current.kind if current else f"{DEV_STORE}@0.1.0")
    if kind.partition("@")[0] != DEV_STORE:
        raise NotYetImplemented(
            f"manifest secrets[] write through the dev-store only; env `{r.env_id}` binds "
            f"secrets to `{kind}`"
        )


def _gate(
    mode: Mode,
    pending: int,
    env_id: str,
    manifest_path: Path,
    *,
    ask: Callable[[str], bool] | None,
) -> None:
    """`check` refuses a pending plan; an interactive apply asks before changing anything."""
    if mode == "check" and pending:
        raise Conflict(
            f"env `{env_id}` is not converged: {pending} pending change(s) — run "
            f"`gtc op env apply --answers {manifest_path}` to reconcile",
        )
    question = f"apply {pending} change(s) to env `{env_id}`?"
    if mode == "apply" and pending and ask is not None and not ask(question):
        raise Conflict("apply not confirmed; nothing was changed", hint="pass --yes to skip")


def apply(
    store: Store,
    manifest_path: Path,
    *,
    mode: Mode = "apply",
    yes: bool = False,
    interactive: bool = False,
    prompt: resolve.Prompt | None = None,
    confirm: Callable[[str], bool] | None = None,
    progress: Callable[[str], None] = lambda _line: None,
    allow_outside: bool = False,
) -> dict[str, Any]:
    """Apply the manifest at `manifest_path` to the store; returns the report. Files the
    manifest names must lie in its directory unless `allow_outside`."""
    manifest = load.load_manifest(manifest_path)
    ask = prompt or (lambda _text: "")
    r = resolve.resolve(
        store,
        manifest,
        manifest_path,
        interactive=interactive and mode == "apply",
        prompt=ask,
        require_all=mode == "apply",
        allow_outside=allow_outside,
    )
    the_plan = plan.diff(
        r,
        manifest,
        staged_answers=_staged(store, r),
        operator_trusted=_operator_trusted(store, r),
    )
    _check_secrets_backend(r, the_plan)
    for line in plan.render(the_plan):
        progress(line)
    for w in r.warnings:
        progress(f"warning: {w}")
    pending = the_plan.pending
    _gate(
        mode,
        len(pending),
        r.env_id,
        manifest_path,
        ask=confirm if interactive and not yes else None,
    )
    if mode == "apply":
        execute.execute(store, the_plan, r, progress=progress)
        progress(f"applied {len(pending)} change(s); {len(the_plan.steps) - len(pending)} no-op")
    return {
        "manifest_schema": manifest.schema_,
        "environment_id": r.env_id,
        "mode": mode,
        "steps": [s.to_json() for s in the_plan.steps],
        "changed": len(pending),
        "no_op": len(the_plan.steps) - len(pending),
        "missing": r.missing,
        "warnings": r.warnings,
    }
