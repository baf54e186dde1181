"""The segments plugin: golden cases (MBQL 4 and 5) and an export from the emulator, filed under its table."""

from __future__ import annotations

import pytest
from mbport_plugins.segments import Segments

from mbport.registry import load_plugins
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


def test_an_archived_segment_is_exported_while_a_card_uses_it(exported, tmp_path):
    """GET /api/segment has no archived filter: an archived segment is fetched by id when a card still filters on
    it (else the tree would hold a ref no import can resolve); one that nothing uses drops out."""
    from mbport.check import check

    inst = exported.inst
    seg = inst.ids["segment"]
    ok(inst.admin.put(f"/api/segment/{seg}", json={"archived": True, "revision_message": "old"}))
    card = ok(inst.admin.post("/api/card", json={
        "name": "Big orders only", "display": "table", "visualization_settings": {}, "collection_id": inst.ids["reports"],
        "dataset_query": {"database": inst.ids["db"], "type": "query",
                          "query": {"source-table": inst.ids["orders"], "filter": ["segment", seg]}}}))
    try:
        result = inst.export(tmp_path / "used")
        segments = {a: d for a, d in result.docs.items() if a.startswith("segments/")}
        assert [d["archived"] for d in segments.values()] == [True] and result.warnings == []
        assert check(tmp_path / "used", load_plugins()) == []
        assert inst.admin.delete(f"/api/card/{card['id']}").status_code == 204
        assert inst.export(tmp_path / "unused", kinds=["segments"]).docs == {}
    finally:
        ok(inst.admin.put(f"/api/segment/{seg}", json={"archived": False, "revision_message": "back"}))
