"""Golden cases of the core kinds: each has one (test_golden_cases.py runs them all), and what they show."""

from pathlib import Path

from mbport.testing import load_case

CASES = Path(__file__).resolve().parents[2] / "fixtures" / "cases"
CORE = ("api-keys", "collections", "databases", "groups", "memberships", "settings", "tables", "users")


def test_every_core_kind_has_a_case():
    assert all(list((CASES / k).glob("*.json")) for k in CORE)


def test_database_secrets_become_markers():
    doc = load_case(CASES / "databases" / "sample-seed.json")["doc"]
    assert doc["details"]["password"] == {"$secret": "databases/Finance/password"}
