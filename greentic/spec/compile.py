"""Compile the store documents' pydantic models to plain pydantic-core schemas (#16).

`gtc op env show` reads environment.json and runtime-config.json and must validate them as
strictly as the models do, but importing pydantic and building the models is most of its
start-up. So the models' own core schemas (what pydantic hands pydantic-core) are rewritten
once, here, into data: each model becomes a typed dict with the same fields, aliases,
defaults, constraints and `extra` rule, guarded by a `model_type` check as a model is; each
field rule is named by its `greentic.spec.rules` function. `greentic.spec.documents` builds
the validators from that data with pydantic-core alone. Regenerate after a model change:

    .venv/bin/python -m greentic.spec.compile

tests/unit/spec/test_documents.py fails while greentic/spec/core_schemas.py is stale.
Imported by that test and this command only, never at run time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from greentic.spec import rules
from greentic.spec.environment import Environment
from greentic.spec.runtime_config import RuntimeConfig

DOCUMENTS: dict[str, type[BaseModel]] = {
    "environment": Environment,
    "runtime_config": RuntimeConfig,
}
TARGET = Path(__file__).with_name("core_schemas.py")
# What a model's core schema may hold; anything else (a custom serializer, a wrap validator, a
# recursive definition) stops the compiler rather than being dropped silently.
MODEL_KEYS = {"type", "cls", "schema", "config", "ref", "metadata", "custom_init", "root_model"}
FIELDS_KEYS = {"type", "fields", "computed_fields", "model_name"}
FIELD_KEYS = {"type", "schema", "metadata", "validation_alias", "serialization_alias"}
CONFIG_KEYS = {"extra_fields_behavior", "title", "validate_by_alias", "validate_by_name"}
FUNCTION_TYPES = {"function-after", "function-before", "function-plain"}
DROPPED = {"metadata", "ref"}  # json-schema hooks and build-time refs: no effect on validation


class Uncompilable(Exception):
    """A model uses a feature the compiler does not translate."""


def compile_documents() -> dict[str, Any]:
    """`{name: core schema data}` for every store document the compiled readers handle."""
    return {name: convert(model.__pydantic_core_schema__) for name, model in DOCUMENTS.items()}


def convert(node: Any) -> Any:
    """One core-schema node as plain data (models → guarded typed dicts, functions → names)."""
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return _leaf(node)
    kind = node.get("type")
    if kind == "model":
        return _model(node)
    if kind == "default" and "default_factory" in node:
        return _default_factory(node)
    if kind in ("definitions", "definition-ref"):
        raise Uncompilable("recursive or shared model definitions are not compiled")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in DROPPED:
            continue
        if key == "function" and kind in FUNCTION_TYPES:
            out[key] = _function(value)
        else:
            out[key] = convert(value)
    return out


def _leaf(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise Uncompilable(f"a core schema holds {value!r}, which is not data")


def _model(node: dict[str, Any]) -> dict[str, Any]:
    """A model: its fields as a typed dict, behind the check that makes a non-object input a
    `model_type` error naming the class, as model validation words it."""
    _only(node, MODEL_KEYS, "model")
    inner = node["schema"]
    _only(inner, FIELDS_KEYS, "model fields")
    if node.get("custom_init") or node.get("root_model") or inner.get("computed_fields"):
        raise Uncompilable(f"{node['cls'].__name__}: custom init, root or computed fields")
    config = node.get("config", {})
    _only(config, CONFIG_KEYS, "model config")
    typed: dict[str, Any] = {
        "type": "typed-dict",
        "fields": {name: _field(f) for name, f in inner["fields"].items()},
        "extra_behavior": config.get("extra_fields_behavior", "ignore"),
        "config": {k: config[k] for k in ("validate_by_alias", "validate_by_name") if k in config},
    }
    guard = {"type": "no-info", "function": f"model:{node['cls'].__name__}"}
    return {"type": "function-before", "function": guard, "schema": typed}


def _field(field: dict[str, Any]) -> dict[str, Any]:
    _only(field, FIELD_KEYS, "model field")
    schema = convert(field["schema"])
    out = {"type": "typed-dict-field", "schema": schema, "required": schema["type"] != "default"}
    for key in ("validation_alias", "serialization_alias"):
        if key in field:
            out[key] = field[key]
    return out


def _default_factory(node: dict[str, Any]) -> dict[str, Any]:
    """`default_factory=list|dict` → that empty default (pydantic-core copies a mutable one);
    a model class → `{}` validated, which fills in the model's own defaults."""
    factory = node["default_factory"]
    out = {
        k: convert(v)
        for k, v in node.items()
        if k not in ("default_factory", "default_factory_takes_data", *DROPPED)
    }
    if factory is list:
        out["default"] = []
    elif factory is dict:
        out["default"] = {}
    elif isinstance(factory, type) and issubclass(factory, BaseModel):
        out["default"] = {}
        out["validate_default"] = True
    else:
        raise Uncompilable(f"default_factory {factory!r} is not list, dict or a model")
    return out


def _function(spec: dict[str, Any]) -> dict[str, Any]:
    fn = spec.get("function")
    module, name = getattr(fn, "__module__", None), getattr(fn, "__name__", "")
    if spec.get("type") != "no-info" or module != rules.__name__ or getattr(rules, name) is not fn:
        raise Uncompilable(f"validator {fn!r}: only greentic.spec.rules functions are compiled")
    return {"type": "no-info", "function": f"rules:{name}"}


def _only(node: dict[str, Any], allowed: set[str], what: str) -> None:
    extra = set(node) - allowed
    if extra:
        raise Uncompilable(f"{what} has {sorted(extra)}, which the compiler does not translate")


def render(schemas: dict[str, Any]) -> str:
    """The text of core_schemas.py: the data as JSON text, which compiles ~10x faster than the
    same data as a Python literal (a dev checkout may compile it on every `gtc` run)."""
    text = json.dumps(schemas, indent=1)
    if '"""' in text or "\\" in text:
        raise Uncompilable("the schema text needs escaping; render it another way")
    return (
        '"""Generated by `python -m greentic.spec.compile` from the store models: do not edit.\n'
        "\n"
        "Size: generated data, the core schemas of environment.json and runtime-config.json.\n"
        '"""\n\n'
        "from __future__ import annotations\n\n"
        "import json\n"
        "from typing import Any\n\n"
        f'SCHEMAS: dict[str, Any] = json.loads(\n    r"""\n{text}\n"""\n)\n'
    )


def main() -> int:
    TARGET.write_text(render(compile_documents()), encoding="utf-8")
    print(f"wrote {TARGET}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
