"""The compiled store validators (greentic.spec.documents) against the pydantic models.

Same verdict, same errors (type, location, message) and the same `to_json_dict()` output for
valid documents and for documents broken anywhere (hypothesis puts random JSON values at
random places, drops keys, adds unknown ones); core_schemas.py is what the compiler makes of
the models today; the compiled path imports no pydantic; the compiler refuses what it cannot
translate.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError, field_validator

from greentic.spec import compile as compiler
from greentic.spec.core_schemas import SCHEMAS
from greentic.spec.documents import document
from greentic.spec.environment import Environment
from greentic.spec.runtime_config import RuntimeConfig

D1, R1, R2 = (
    "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "01ARZ3NDEKTSV4RRFFQ69G5FAW",
    "01ARZ3NDEKTSV4RRFFQ69G5FAX",
)
DIGEST = "sha256:" + "a" * 64
NOW = "2024-01-01T00:00:00Z"
ENVIRONMENT: dict[str, Any] = {
    "schema": "greentic.environment.v1",
    "environment_id": "e1",
    "name": "e1",
    "host_config": {"env_id": "e1", "listen_addr": "127.0.0.1:8080", "gui_enabled": True},
    "packs": [{"slot": "deployer", "kind": "k", "pack_ref": "p", "generation": 2}],
    "bundles": [
        {
            "schema": "greentic.bundle-deployment.v1",
            "deployment_id": D1,
            "env_id": "e1",
            "bundle_id": "bot",
            "customer_id": "c",
            "current_revisions": [R1],
            "route_binding": {"hosts": ["a.example"], "path_prefixes": ["/"]},
            "created_at": NOW,
        }
    ],
    "revisions": [
        {
            "revision_id": rid,
            "env_id": "e1",
            "bundle_id": "bot",
            "deployment_id": D1,
            "sequence": seq,
            "created_at": NOW,
            "bundle_digest": DIGEST,
            "bundle_source_uri": "oci://127.0.0.1:5000/a/b:v1",
            "pack_list": [{"pack_id": "p", "version": "1.0.0", "digest": DIGEST}],
            "pack_list_lock_ref": f"revisions/{rid}/pack-list.lock",
            "pack_config_refs": [f"revisions/{rid}/pack-configs/p.json"],
            "lifecycle": "ready",
        }
        for seq, rid in ((1, R1), (2, R2))
    ],
    "traffic_splits": [
        {
            "env_id": "e1",
            "deployment_id": D1,
            "bundle_id": "bot",
            "entries": [
                {"revision_id": R1, "weight_bps": 9000},
                {"revision_id": R2, "weight_bps": 1000},
            ],
            "updated_at": NOW,
            "idempotency_key": "k",
        }
    ],
    "messaging_endpoints": [
        {
            "env_id": "e1",
            "endpoint_id": "ep",
            "provider_type": "telegram",
            "provider_id": "tg",
            "display_name": "Bot",
            "linked_bundles": ["bot"],
        }
    ],
}
RUNTIME_CONFIG: dict[str, Any] = {
    "schema": "greentic.runtime-config.v1",
    "env_id": "e1",
    "revisions": [
        {
            "deployment_id": D1,
            "revision_id": R1,
            "bundle_id": "bot",
            "pack_list_refs": [f"revisions/{R1}/pack-list.lock"],
            "weight_bps": 10000,
        }
    ],
}
MODELS: dict[str, tuple[type[BaseModel], dict[str, Any]]] = {
    "environment": (Environment, ENVIRONMENT),
    "runtime_config": (RuntimeConfig, RUNTIME_CONFIG),
}


def errors(exc: ValidationError) -> list[tuple[str, tuple[int | str, ...], str]]:
    return [(e["type"], tuple(e["loc"]), e["msg"]) for e in exc.errors()]


def outcome_of_model(name: str, doc: Any) -> tuple[str, Any]:
    model = MODELS[name][0]
    try:
        value = model.model_validate(doc)
    except ValidationError as exc:
        return "invalid", errors(exc)
    dumped: dict[str, Any] = value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return "valid", json.dumps(dumped)  # key order included


def outcome_compiled(name: str, doc: Any) -> tuple[str, Any]:
    compiled = document(name)
    try:
        value = compiled.validate(doc)
    except ValidationError as exc:
        return "invalid", errors(exc)
    return "valid", json.dumps(compiled.dump(value))


def test_core_schemas_are_what_the_compiler_makes_of_the_models() -> None:
    """Fails after a model change until `python -m greentic.spec.compile` is re-run."""
    assert compiler.compile_documents() == SCHEMAS


@pytest.mark.parametrize("name", sorted(MODELS))
def test_valid_documents_validate_and_dump_alike(name: str) -> None:
    doc = MODELS[name][1]
    assert outcome_compiled(name, doc) == outcome_of_model(name, doc)
    assert outcome_compiled(name, doc)[0] == "valid"


@pytest.mark.parametrize(
    ("name", "path", "value"),
    [
        ("environment", ("name",), None),
        ("environment", ("host_config",), []),
        ("environment", ("host_config",), "x"),
        ("environment", (), ["not", "an", "object"]),
        ("environment", ("schema",), "greentic.environment.v2"),
        ("environment", ("environment_id",), "../up"),
        ("environment", ("packs", 0, "slot"), "nope"),
        ("environment", ("packs", 0, "generation"), "7"),
        ("environment", ("packs", 0, "generation"), 7.5),
        ("environment", ("host_config", "gui_enabled"), "yes"),
        ("environment", ("bundles", 0, "deployment_id"), "lowercase-id"),
        ("environment", ("bundles", 0, "route_binding"), None),
        ("environment", ("bundles", 0, "route_binding", "path_prefixes"), ["no-slash"]),
        ("environment", ("bundles", 0, "status"), "deleted"),
        ("environment", ("revisions", 1, "bundle_digest"), "sha256:XYZ"),
        ("environment", ("revisions", 0, "lifecycle"), "gone"),
        ("environment", ("traffic_splits", 0, "entries", 0, "weight_bps"), 5),
        ("environment", ("traffic_splits", 0, "entries", 0, "weight_bps"), "9000"),
        ("environment", ("traffic_splits", 0, "entries", 1, "weight_bps"), -1),
        ("environment", ("messaging_endpoints", 0, "secret_refs"), "one"),
        ("runtime_config", ("revisions", 0, "weight_bps"), 10001),
        ("runtime_config", ("revisions", 0, "pack_list_refs"), [1]),
        ("runtime_config", ("env_id",), 12),
    ],
)
def test_each_broken_field_gives_the_same_errors(
    name: str, path: tuple[int | str, ...], value: Any
) -> None:
    doc = put(MODELS[name][1], path, value)
    assert outcome_compiled(name, doc) == outcome_of_model(name, doc)


def put(doc: Any, path: tuple[int | str, ...], value: Any) -> Any:
    if not path:
        return value
    out = copy.deepcopy(doc)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


def paths_in(doc: Any, prefix: tuple[int | str, ...] = ()) -> list[tuple[int | str, ...]]:
    """Every path to a value in `doc` (the root included)."""
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += paths_in(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += paths_in(value, (*prefix, i))
    return out


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["1", "0", "true", "off", "10000", " 5 ", "1e3", "/", "e1", D1, DIGEST]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)


@st.composite
def broken(draw: st.DrawFn, name: str) -> Any:
    """The valid document with one change: a value replaced, a key dropped or one added."""
    base = MODELS[name][1]
    path = draw(st.sampled_from(paths_in(base)))
    action = draw(st.sampled_from(["replace", "drop", "add"]))
    if action == "replace" or not path:
        return put(base, path, draw(JSON_VALUES))
    doc = copy.deepcopy(base)
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if action == "drop":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.sampled_from(["extra", "schema_", "Name", ""]))] = draw(JSON_VALUES)
    else:
        parent.append(draw(JSON_VALUES))
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_breakage_gives_the_same_outcome(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(MODELS)))
    doc = data.draw(broken(name))
    assert outcome_compiled(name, doc) == outcome_of_model(name, doc)


def test_the_compiled_path_imports_no_pydantic() -> None:
    probe = (
        "import sys; from greentic.spec.documents import document; "
        "document('environment'); document('runtime_config'); "
        "import greentic.store.reading; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_compiler_refuses_a_validator_outside_the_rules_module() -> None:
    class Odd(BaseModel):
        name: str

        @field_validator("name")
        @classmethod
        def _name(cls, v: str) -> str:
            return v

    with pytest.raises(compiler.Uncompilable, match=r"greentic\.spec\.rules"):
        compiler.convert(Odd.__pydantic_core_schema__)


def test_the_compiler_refuses_an_unknown_default_factory() -> None:
    class Odd(BaseModel):
        items: tuple[int, ...] = Field(default_factory=tuple)

    with pytest.raises(compiler.Uncompilable, match="default_factory"):
        compiler.convert(Odd.__pydantic_core_schema__)


def test_the_compiler_refuses_a_value_that_is_not_data() -> None:
    class Odd(BaseModel):
        tags: frozenset[str] = frozenset()

    with pytest.raises(compiler.Uncompilable, match="not data"):
        compiler.convert(Odd.__pydantic_core_schema__)
