"""The actions plugin: golden cases (query, implicit, http, 0.63 list tags) and an export from the emulator."""

from __future__ import annotations

import pytest
from mbport_plugins.actions import Actions

from mbport.check import check
from mbport.registry import load_plugins
from tests.plugins.emulated_content import cases, export_everything, golden

KIND = Actions()
CASES = cases("actions")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_everything(tmp_path_factory)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_docs_leave_public_sharing_out(path):
    """Besides the shared golden checks (test_golden_cases.py)."""
    _, doc, _ = golden(KIND, path)
    assert "public_uuid" not in doc and "made_public_by" not in str(doc)


def test_list_form_template_tags_become_a_map_with_portable_card_tags():
    case, doc, _ = golden(KIND, next(p for p in CASES if "063" in p.stem))
    tags = doc["dataset_query"]["stages"][0]["template-tags"]
    assert sorted(tags) == ["#[cards/key-12]-recent-orders", "id"]
    assert tags["#[cards/key-12]-recent-orders"]["card-id"] == {"$ref": "cards/key-12"}
    assert "{{#[cards/key-12]-recent-orders}}" in doc["dataset_query"]["stages"][0]["native"]


def test_export_of_query_and_implicit_actions(exported):
    inst = exported.inst
    model = {"$ref": f"cards/{inst.eid('card', inst.ids['model'])}"}
    assert exported.paths("actions") == ["actions/bump.json", "actions/delete-order.json"]
    bump, delete = exported.file("actions/bump.json"), exported.file("actions/delete-order.json")
    assert bump["model"] == delete["model"] == model
    assert bump["database"] == bump["dataset_query"]["database"] == {"$ref": "databases/Shop"}
    assert bump["dataset_query"]["stages"][0]["template-tags"]["id"]["type"] == "number"
    assert "lib.convert/converted?" not in bump["dataset_query"]
    assert bump["parameters"] == [{"id": "id", "type": "number/=", "target": ["variable", ["template-tag", "id"]]}]
    # an implicit action runs on its model's table: no database or query of its own
    assert delete == {"archived": False, "entity_id": inst.eid("action", inst.ids["implicit"]), "kind": "row/delete",
                      "model": model, "name": "Delete order", "type": "implicit"}
    assert check(exported.out, load_plugins()) == []
