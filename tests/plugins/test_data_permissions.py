"""The data-permissions plugin: golden cases and an export of the emulator's graph (tables by name, no admins)."""

from __future__ import annotations

import pytest
from mbport_plugins.data_permissions import DataPermissions

from tests.plugins.emulated_content import cases, export_everything, golden, ok

KIND = DataPermissions()
CASES = cases("data-permissions")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_everything(tmp_path_factory)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_golden_graph_has_one_fixed_address(path):
    """Besides the shared golden checks (test_golden_cases.py)."""
    case, doc, _ = golden(KIND, path)
    assert KIND.address_of(case["raw"]) == KIND.address_of(doc) == "data-permissions/graph"


def test_table_ids_become_names_everywhere_they_hide():
    _, doc, warnings = golden(KIND, next(p for p in CASES if "granular" in p.stem))
    perms = next(g["permissions"] for g in doc["grants"] if g["database"] == {"$ref": "databases/key-1"})
    assert perms["view-data"] == {"PUBLIC": {"orders": "unrestricted", "order/lines": "blocked"}, "audit": "blocked"}
    assert perms["download"] == {"schemas": {"PUBLIC": {"orders": "limited"}}, "native": "none"}
    assert perms["data-model"] == {"schemas": {"PUBLIC": {"order/lines": "all"}}}
    assert warnings == ["data-permissions/graph: refers to tables id 99, which does not exist (tables/missing-id-99)"]
    assert all(g["group"] != {"$ref": "groups/key-2"} for g in doc["grants"])  # Administrators (role: admin)


def test_export_of_the_graph(exported):
    assert exported.paths("data-permissions") == ["data-permissions/graph.json"]
    doc = exported.file("data-permissions/graph.json")
    assert [(g["group"]["$ref"], g["database"]["$ref"]) for g in doc["grants"]] == [
        ("groups/All Users", "databases/Shop"), ("groups/Analysts", "databases/Shop")]
    analysts = doc["grants"][1]["permissions"]
    # `people: no` is the least permissive value, which Metabase leaves out of the graph
    assert analysts["create-queries"] == {"": {"orders": "query-builder"}}
    assert analysts["view-data"] == "unrestricted"
    assert "revision" not in doc and exported.result.warnings == []


def test_the_doc_does_not_change_with_the_revision(exported, tmp_path):
    inst = exported.inst
    before = exported.file("data-permissions/graph.json")
    graph = ok(inst.admin.get("/api/permissions/graph"))
    orders, people = str(inst.ids["orders"]), str(inst.ids["people"])
    for n, people_level in enumerate(("query-builder", "no")):  # grant, then revoke again
        ok(inst.admin.put("/api/permissions/graph", json={"revision": graph["revision"] + n, "groups": {
            str(inst.ids["analysts"]): {str(inst.ids["db"]): {
                "create-queries": {"": {orders: "query-builder", people: people_level}}}}}}))
    assert ok(inst.admin.get("/api/permissions/graph"))["revision"] == graph["revision"] + 2
    again = inst.export(tmp_path / "tree", kinds=["data-permissions"])
    assert again.docs["data-permissions/graph"] == before
