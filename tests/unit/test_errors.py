"""The error tree: every user-facing kind is one of SPEC §4's, kebab-case, enveloped alike."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import greentic
from greentic import errors

# Import every module so the tree below is the whole tree, whatever ran before this test
# (the optional Kubernetes client is imported lazily inside functions, never at import time).
for _mod in pkgutil.walk_packages(greentic.__path__, "greentic."):
    importlib.import_module(_mod.name)


def all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *all_subclasses(sub)]
    return out


ERROR_TYPES = all_subclasses(errors.GreenticError)


def test_the_tree_covers_every_spec_kind_exactly_once_at_the_top() -> None:
    top = [c for c in ERROR_TYPES if c.__bases__ == (errors.GreenticError,)]
    assert sorted(c.kind for c in top) == sorted(errors.KINDS)


@pytest.mark.parametrize("cls", ERROR_TYPES, ids=lambda c: c.__qualname__)
def test_every_kind_is_kebab_case_and_in_the_spec_list(cls: type[errors.GreenticError]) -> None:
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", cls.kind)
    assert cls.kind in errors.KINDS


@pytest.mark.parametrize("cls", ERROR_TYPES, ids=lambda c: c.__qualname__)
def test_every_error_type_says_when_it_is_raised(cls: type) -> None:
    assert cls.__doc__ and cls.__doc__.strip().lower().startswith("raised when")


def test_finer_types_keep_their_parent_kind() -> None:
    assert errors.DigestMismatch("x").kind == "fetch"
    conflict = errors.ApplyConflict("field manager conflict", status=409)
    assert (conflict.kind, conflict.status) == ("conflict", 409)
    assert conflict.envelope() == {"kind": "conflict", "message": "field manager conflict"}
