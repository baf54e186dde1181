"""Field remappings survive a round trip: judged by what the target server holds, field by field."""

from __future__ import annotations

import pytest

from mbport.check import load_tree
from mbport.client import MetabaseClient
from mbport.engine import Importer
from mbport.export import run_export
from mbport.state import State
from tests.conftest import assert_settled, seeded_instance, writes_since

DB = "Handmade Warehouse"


def remappings(api: MetabaseClient) -> dict[tuple[str, str], dict]:
    """(table, field) → what the server holds of the field's remapping, with names for ids: the dimension as
    `GET /api/field/:id` shows it and, for an internal one, the labelled values of `GET /api/field/:id/values`."""
    db = next(d for d in api.get("/api/database")["data"] if d["name"] == DB)
    names = {}
    tables = api.get(f"/api/database/{db['id']}/metadata", params={"include_hidden": "true"})["tables"]
    for table in tables:
        names.update({f["id"]: (table["name"], f["name"]) for f in table["fields"]})
    held = {}
    for table in tables:
        query_metadata = api.get(f"/api/table/{table['id']}/query_metadata")
        for field in query_metadata["fields"]:
            detail = api.get(f"/api/field/{field['id']}")
            assert detail["dimensions"] == field["dimensions"]  # the two places Metabase serves them agree
            for dim in detail["dimensions"]:
                entry = {"type": dim["type"], "name": dim["name"],
                         "shows": names.get(dim["human_readable_field_id"])}
                if dim["type"] == "internal":
                    entry["values"] = api.get(f"/api/field/{field['id']}/values")["values"]
                held[names[field["id"]]] = entry
    return held


@pytest.fixture(scope="module")
def registry():
    from mbport.registry import load_plugins

    return load_plugins()


@pytest.fixture(scope="module")
def source(tmp_path_factory, registry):
    emu, api = seeded_instance("handmade")
    out = tmp_path_factory.mktemp("source") / "tree"
    run_export(api, registry, out)
    return emu, api, out


def importer_for(api, registry, tree, state_path) -> Importer:
    return Importer(api, registry, load_tree(tree, registry), State.load(state_path, api.url), {})


def test_the_handmade_seed_holds_both_kinds_of_remapping(source):
    _, api, _ = source
    held = remappings(api)
    assert held == {
        ("orders", "product_id"): {"type": "external", "name": "Product", "shows": ("products", "title")},
        ("orders", "quantity"): {"type": "internal", "name": "Pack size", "shows": None,
                                 "values": [[3, "Three-pack"], [10, "Ten-pack"]]},
    }


def test_remappings_round_trip_into_an_empty_instance(source, registry, tmp_path):
    _, api, tree = source
    target_emu, target = seeded_instance()
    importer = importer_for(target, registry, tree, tmp_path / "state.json")
    plan = importer.plan()
    assert plan.problems == []
    result = importer.apply(plan)
    target_emu.wait_idle()
    assert result.failed == {}
    assert remappings(target) == remappings(api)
    assert_settled(importer_for(target, registry, tree, tmp_path / "state.json"), target_emu)


def test_plan_shows_a_remapping_the_target_lacks_and_import_removes_one_the_tree_lacks(source, registry, tmp_path):
    _, api, tree = source
    target_emu, target = seeded_instance()
    importer = importer_for(target, registry, tree, tmp_path / "state.json")
    importer.apply(importer.plan())
    target_emu.wait_idle()
    ids = {(t["name"], f["name"]): f["id"]
           for d in target.get("/api/database")["data"] if d["name"] == DB
           for t in target.get(f"/api/database/{d['id']}/metadata")["tables"] for f in t["fields"]}
    # On the target, someone changes the labels, drops the product display, and remaps the customer again.
    target.post(f"/api/field/{ids['orders', 'quantity']}/values", json={"values": [[3, "Trio"], [10, "Ten-pack"]]})
    target.delete(f"/api/field/{ids['orders', 'product_id']}/dimension")
    target.post(f"/api/field/{ids['orders', 'customer_id']}/dimension",
                json={"type": "external", "name": "Customer", "human_readable_field_id": ids["customers", "name"]})
    importer = importer_for(target, registry, tree, tmp_path / "state.json")
    plan = importer.plan()
    changed = {c.address: c.fields for c in plan.changes if c.action == "update"}
    assert changed == {f"tables/{DB}//orders": ["field customer_id: remapping", "field product_id: remapping",
                                                "field quantity: remapping"]}, changed
    before = len(target_emu.request_log)
    importer.apply(plan)
    assert ("DELETE", f"/api/field/{ids['orders', 'customer_id']}/dimension") in [
        (m, p) for m, p, *_ in writes_since(target_emu, before)]
    assert remappings(target) == remappings(api)
    assert_settled(importer_for(target, registry, tree, tmp_path / "state.json"), target_emu)
