"""Read everything a render needs from the store: the one I/O edge in front of render.

`load(store, env_id)` returns render.RenderInputs: the environment model, environment.json's exact
bytes, the parsed deployer answers (from the binding's env-relative answers_ref) and the
dev-store file's bytes when a dev-store secrets slot is bound. Called by the CLI verbs and
the harness; render.objects itself never touches the file system.
"""

from __future__ import annotations

import json
from pathlib import Path

from greentic.deployer.k8s import answers as answers_mod
from greentic.deployer.k8s import bindings
from greentic.deployer.k8s.answers import K8sAnswers
from greentic.deployer.k8s.errors import InvalidAnswers
from greentic.deployer.k8s.render import RenderInputs
from greentic.errors import Conflict, NotFound, StoreError
from greentic.store.envstore import Store, parse_environment


def resolve_answers_ref(env_dir: Path, answers_ref: str) -> Path:
    """The answers file, which must stay inside the env directory."""
    target = (env_dir / answers_ref).resolve()
    if not target.is_relative_to(env_dir.resolve()):
        raise Conflict(
            f"answers_ref `{answers_ref}` escapes env directory: {target} is outside {env_dir}",
            hint="re-bind the deployer with an answers file inside the environment",
        )
    return target


def load_answers(env_dir: Path, answers_ref: str | None) -> K8sAnswers:
    """Parse the deployer answers named by answers_ref (defaults when there is none)."""
    if not answers_ref:
        return K8sAnswers()
    path = resolve_answers_ref(env_dir, answers_ref)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise Conflict(
            f"binding records answers_ref `{answers_ref}` but the file does not exist — "
            "re-run the binding wizard or fix the binding",
            hint=f"expected {path}",
        ) from None
    except OSError as exc:
        raise Conflict(f"answers_ref `{answers_ref}` cannot be read: {exc.strerror}") from None
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise Conflict(f"answers_ref `{answers_ref}` contains invalid JSON: {exc}") from None
    try:
        return answers_mod.parse(doc)
    except InvalidAnswers as exc:
        raise InvalidAnswers(exc.reason, hint=f"fix {path}, then re-run") from None


def read_dev_store(path: Path) -> bytes | None:
    """The dev-store file's bytes, or None when no secret was ever written."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Conflict(f"reading dev-store at {path}: {exc.strerror}") from None


def load(store: Store, env_id: str) -> RenderInputs:
    """Read env, answers and dev-store of `env_id`; Conflict when it is not a k8s env."""
    paths = store.paths(env_id)
    try:
        raw = paths.environment.read_bytes()
    except FileNotFoundError:
        store.load(env_id)  # raises NotFound with its hint
        raise NotFound(f"environment `{env_id}` not found") from None
    try:
        text = raw.decode("utf-8")
        doc = json.loads(text)
    except ValueError as exc:
        raise StoreError(f"cannot read {paths.environment}: {exc}") from None
    env = parse_environment(doc, path=paths.environment, env_id=env_id)
    binding = bindings.k8s_deployer(env)
    parsed = load_answers(paths.dir, binding.answers_ref)
    dev_store = read_dev_store(paths.dev_secrets) if bindings.stages_dev_store(env) else None
    return RenderInputs(
        env=env,
        env_json=text,
        answers=parsed,
        dev_store=dev_store,
        answers_ref=binding.answers_ref,
    )
