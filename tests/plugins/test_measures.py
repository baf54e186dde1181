"""The measures plugin: golden cases, an export from the emulator, and releases without measures."""

from __future__ import annotations

import pytest
from mbport_plugins.measures import Measures

from tests.plugins.emulated_content import add_shop, cases, export_everything, golden, new_instance

KIND = Measures()
CASES = cases("measures")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_everything(tmp_path_factory)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_definitions_carry_no_query_noise(path):
    """Besides the shared golden checks (test_golden_cases.py)."""
    doc = golden(KIND, path)[1]
    assert "lib/uuid" not in str(doc) and "lib.convert/converted?" not in doc["definition"]


def test_export_files_the_measure_under_its_table(exported):
    inst = exported.inst
    assert exported.paths("measures") == ["measures/shop/no-schema/orders/revenue.json"]
    doc = exported.file("measures/shop/no-schema/orders/revenue.json")
    assert doc["entity_id"] == inst.eid("measure", inst.ids["measure"])
    assert doc["table"] == {"$ref": "tables/Shop//orders"}
    stage = doc["definition"]["stages"][0]
    assert doc["definition"]["database"] == {"$ref": "databases/Shop"}
    assert stage["source-table"] == {"$ref": "tables/Shop//orders"}
    assert stage["aggregation"] == [["sum", {}, ["field", {}, {"$ref": "fields/Shop//orders/total"}]]]
    assert "definition_description" not in doc  # derived from the definition
    # From 0.60 the server persists the dimensions it offers (the default profile is 0.61): exported with their
    # columns as field refs (their ids are the server's own: plan names them as unrestorable).
    assert doc["dimensions"] and all(str(d["field"]["$ref"]).startswith("fields/Shop//orders/") for d in doc["dimensions"])


def test_a_release_without_measures_has_none(tmp_path):
    inst = new_instance("0.56")  # /api/measure answers 404 before 0.59
    add_shop(inst)
    result = inst.export(tmp_path / "tree", kinds=["measures"])
    assert result.docs == {} and result.warnings == []
