"""Store documents validated by pydantic-core alone: the models' rules without pydantic (#16).

`document("environment").validate(doc)` accepts and rejects exactly what
`Environment.model_validate(doc)` does, with the same errors (type, location, message), and
`.dump(value)` is what `.to_json_dict()` gives: both run the models' own core schemas, compiled
to data by `greentic.spec.compile` (greentic/spec/core_schemas.py) with every field rule named
by its `greentic.spec.rules` function. Importing pydantic and building the models costs a
read-only `gtc op env show` most of its start-up; pydantic-core is a fraction of that. The
cross-document rules are `greentic.spec.rules.check_*`, shared with the models. Validated
values are plain dicts keyed by field name (`schema_`, as on the models).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from pydantic_core import PydanticKnownError, SchemaSerializer, SchemaValidator

from greentic.spec import rules
from greentic.spec.core_schemas import SCHEMAS


def model_input(class_name: str, value: Any) -> Any:
    """What model validation asks of its input before its fields: an object (a dict)."""
    if not isinstance(value, dict):
        raise PydanticKnownError("model_type", {"class_name": class_name})
    return value


def _function(name: str) -> Any:
    kind, _, arg = name.partition(":")
    if kind == "model":
        return functools.partial(model_input, arg)
    if kind == "rules" and not arg.startswith("_") and callable(getattr(rules, arg, None)):
        return getattr(rules, arg)
    raise ValueError(f"core_schemas.py names an unknown function `{name}`")


def resolve(node: Any) -> Any:
    """The schema data with each named function replaced by the function itself."""
    if isinstance(node, list):
        return [resolve(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "function" and isinstance(value, dict) and isinstance(value["function"], str):
            out[key] = {**value, "function": _function(value["function"])}
        else:
            out[key] = resolve(value)
    return out


class Document(NamedTuple):
    """A store document's validator and serializer (built from the same schema)."""

    validator: SchemaValidator
    serializer: SchemaSerializer

    def validate(self, doc: Any) -> dict[str, Any]:
        """The validated document (defaults filled in); raises pydantic-core's ValidationError."""
        value: dict[str, Any] = self.validator.validate_python(doc)
        return value

    def dump(self, value: dict[str, Any]) -> dict[str, Any]:
        """JSON-ready, keys by alias, None left out: the models' `to_json_dict()`."""
        out: dict[str, Any] = self.serializer.to_python(
            value, mode="json", by_alias=True, exclude_none=True
        )
        return out


@functools.cache
def document(name: str) -> Document:
    """The compiled validator of `name` (`environment`, `runtime_config`), built once."""
    schema = resolve(SCHEMAS[name])
    return Document(SchemaValidator(schema), SchemaSerializer(schema))
