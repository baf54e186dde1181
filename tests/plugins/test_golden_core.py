"""Golden normalize cases for the core kinds: a raw API object in, the expected doc out."""

from pathlib import Path

import pytest

from mbport.registry import load_plugins
from mbport.testing import load_case, normalize_case, numeric_ids_left, uncovered_fields

CASES = Path(__file__).resolve().parents[2] / "fixtures" / "cases"
CORE = ("api-keys", "collections", "databases", "groups", "memberships", "settings", "tables", "users")
REGISTRY = load_plugins(list(CORE))


@pytest.mark.parametrize("path", sorted(p for k in CORE for p in (CASES / k).glob("*.json")), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden_case(path):
    kind = REGISTRY[path.parent.name]
    case = load_case(path)
    doc, warnings = normalize_case(kind, case)
    assert warnings == []
    assert doc == case["doc"]
    assert numeric_ids_left(doc) == []
    assert uncovered_fields(kind, case["raw"]) == set()


def test_every_core_kind_has_a_case():
    assert all(list((CASES / k).glob("*.json")) for k in CORE)


def test_database_secrets_become_markers():
    doc = load_case(CASES / "databases" / "sample-seed.json")["doc"]
    assert doc["details"]["password"] == {"$secret": "databases/Finance/password"}
