"""The trimmed specs in tests/data/specs/ are whole: every schema the tests name is there, and every `$ref` in
them points at something kept (a dangling one would fail deep inside jsonschema, mid-test, far from the cause)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.data.specs.trim import ROOTS
from tests.fakes.openai_spec import SPECS_DIR, component, spec_document

_REF = re.compile(r'"\$ref": "#/([^"]+)"')


def _resolve(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for part in pointer.split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


@pytest.mark.parametrize("target", [target for target, _, _ in ROOTS.values()])
def test_every_reference_of_a_trimmed_spec_resolves_inside_it(target: str) -> None:
    document = spec_document(target)
    for pointer in set(_REF.findall(json.dumps(document))):
        _resolve(document, pointer)  # KeyError names what trim.py left out


@pytest.mark.parametrize("target,roots", [(target, roots) for target, roots, _ in ROOTS.values()])
def test_every_schema_the_tests_name_is_kept(target: str, roots: list[str]) -> None:
    assert all(component(name, target) for name in roots)


def test_the_folder_holds_only_the_trimmed_specs_and_their_tools() -> None:
    kept = {path.name for path in SPECS_DIR.iterdir() if path.suffix == ".json"}
    assert kept == {target for target, _, _ in ROOTS.values()}
