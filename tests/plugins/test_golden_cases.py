"""Golden normalize cases of every kind: each `fixtures/cases/<kind>/*.json` raw object in, the expected doc out."""

from __future__ import annotations

from pathlib import Path

import pytest

from mbport.kind import address_fields
from mbport.registry import load_plugins
from mbport.testing import load_case, normalize_case, numeric_ids_left, uncovered_fields

CASES = Path(__file__).resolve().parents[2] / "fixtures" / "cases"
PATHS = sorted(CASES.glob("*/*.json"))
REGISTRY = load_plugins()


def test_every_case_folder_is_an_installed_kind_with_cases():
    folders = {p.name for p in CASES.iterdir() if p.is_dir()}
    assert folders <= set(REGISTRY.kinds)
    assert all(list((CASES / k).glob("*.json")) for k in folders)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden_case(path):
    kind = REGISTRY[path.parent.name]
    case = load_case(path)
    doc, warnings = normalize_case(kind, case)
    assert warnings == case.get("warnings", [])
    assert doc == case["doc"]
    assert uncovered_fields(kind, case["raw"]) == set()
    assert numeric_ids_left(doc) == []
    if address_fields(kind) == ("entity_id",):
        # keyed by entity_id; other keys (names, graphs, card + ordinal) are checked by their kinds' own tests
        assert kind.address_of(case["raw"]) == kind.address_of(doc) == f"{kind.name}/{case['raw']['entity_id']}"
