"""Read and shape-check an env-manifest file (no store, no secrets, no bundle files).

A syntax error names the file and line; an unknown key names the key; a wrong schema string
says which one is expected. All are `answers-parse` errors. Called first by `env apply`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from greentic.deployer.answers_file import load_mapping
from greentic.deployer.common import validation_message
from greentic.errors import AnswersParseError
from greentic.spec.manifest import SCHEMA, EnvManifest


def load_manifest(path: Path) -> EnvManifest:
    """The validated manifest at `path`."""
    doc = load_mapping(path, what="env-manifest")
    schema = doc.get("schema")
    if schema != SCHEMA:
        raise AnswersParseError(
            f"{path}: manifest schema `{schema}` is not the expected `{SCHEMA}`"
        )
    try:
        return EnvManifest.model_validate(doc)
    except ValidationError as exc:
        raise AnswersParseError(f"{path}: {validation_message(exc)}") from None
