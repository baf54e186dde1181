"""The segments plugin: golden cases (MBQL 4 and 5) and an export from the emulator, filed under its table."""

from __future__ import annotations

import pytest
from mbport_plugins.segments import Segments

from tests.plugins.emulated_content import cases, export_everything, golden, ok

KIND = Segments()
CASES = cases("segments")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_everything(tmp_path_factory)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_definitions_carry_no_lib_uuid(path):
    """Besides the shared golden checks (test_golden_cases.py)."""
    assert "lib/uuid" not in str(golden(KIND, path)[1])


def test_export_files_the_segment_under_its_table(exported):
    inst = exported.inst
    assert exported.paths("segments") == ["segments/shop/no-schema/orders/big-orders.json"]
    doc = exported.file("segments/shop/no-schema/orders/big-orders.json")
    assert doc == {
        "archived": False, "description": "Over 50", "entity_id": inst.eid("segment", inst.ids["segment"]),
        "name": "Big orders", "table": {"$ref": "tables/Shop//orders"},
        "definition": {"source-table": {"$ref": "tables/Shop//orders"},
                       "filter": [">", ["field", {"$ref": "fields/Shop//orders/total"}, None], 50]},
    }
    assert exported.result.warnings == []


def test_archived_segments_cannot_be_listed(exported, tmp_path):
    """GET /api/segment has no archived filter: an archived segment drops out of the export (a known limit)."""
    inst = exported.inst
    ok(inst.admin.put(f"/api/segment/{inst.ids['segment']}", json={"archived": True, "revision_message": "old"}))
    try:
        assert inst.export(tmp_path / "tree", kinds=["segments"]).docs == {}
    finally:
        ok(inst.admin.put(f"/api/segment/{inst.ids['segment']}", json={"archived": False, "revision_message": "back"}))
