"""The Library and Data Studio (0.59+, Enterprise `library`), and the persisted dimensions of measures and metrics
(0.65), as Metabase's source has them (models/library.py, models/dimensions.py cite it)."""

from __future__ import annotations

import pytest

from mbport.emulator import Emulator, bootstrap, seeds
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client


def instance(profile: str = "0.65", premium: str | None = "all"):
    emu = Emulator(profile, premium_features=premium, sqlite_actions=True)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    seeds.load(emu, "handmade", session)  # orders.product_id shows products.title (an external remapping)
    emu.wait_idle()
    return emu, make_client(emu, **{"X-Metabase-Session": session})


@pytest.fixture
def ee():
    return instance()


def tables(api) -> dict[str, dict]:
    return {t["name"]: t for t in api.get("/api/table").json()}


def library(api) -> dict[str, dict]:
    created = api.post("/api/ee/library")
    assert created.status_code == 200, created.text
    return {c["type"]: c for c in api.get("/api/collection").json() if str(c.get("type")).startswith("library")}


def test_the_library_comes_with_data_metrics_and_from_0_65_dashboards_once(ee):
    _, api = ee
    assert api.get("/api/ee/library").json() == {"data": None}
    colls = library(api)
    assert {t: c["name"] for t, c in colls.items()} == {
        "library": "Library", "library-data": "Data", "library-metrics": "Metrics", "library-dashboards": "Dashboards"}
    _, older = instance("0.63")
    assert set(library(older)) == {"library", "library-data", "library-metrics"}
    assert colls["library-data"]["location"] == f"/{colls['library']['id']}/"
    again = api.post("/api/ee/library")
    assert (again.status_code, again.text) == (400, "Library already exists")
    assert api.get("/api/ee/library").json()["model"] == "collection"


def test_library_collections_pass_their_type_on_and_hold_only_their_content(ee):
    _, api = ee
    colls = library(api)
    sub = api.post("/api/collection", json={"name": "Sales", "parent_id": colls["library-data"]["id"]}).json()
    assert sub["type"] == "library-data"
    root_child = api.post("/api/collection", json={"name": "X", "parent_id": colls["library"]["id"]})
    assert (root_child.status_code, root_child.text) == (400, "Cannot add anything to the Library collection")
    table = tables(api)["orders"]
    query = {"database": table["db_id"], "type": "query", "query": {"source-table": table["id"],
                                                                     "aggregation": [["count"]]}}
    card = {"name": "Count", "display": "scalar", "visualization_settings": {}, "dataset_query": query}
    question = api.post("/api/card", json={**card, "collection_id": colls["library-metrics"]["id"]})
    assert (question.status_code, question.text) == (400, "Can only add metrics to the 'Metrics' collection")
    metric = api.post("/api/card", json={**card, "type": "metric", "collection_id": colls["library-metrics"]["id"]})
    assert metric.status_code == 200
    in_data = api.post("/api/card", json={**card, "type": "metric", "collection_id": sub["id"]})
    assert (in_data.status_code, in_data.text) == (400, "Can only add tables to the 'Data' collection")


def test_the_tree_hides_the_library_unless_asked_from_0_63(ee):
    _, api = ee
    library(api)
    names = {c["name"] for c in api.get("/api/collection/tree").json()}
    assert "Library" not in names
    assert "Library" in {c["name"] for c in api.get("/api/collection/tree", params={"include-library": "true"}).json()}
    assert [c["name"] for c in api.get("/api/ee/library/tree").json()] == ["Library"]
    assert "Library" in {c["name"] for c in api.get("/api/collection").json()}  # the list keeps it


def test_publishing_takes_the_tables_a_remapping_shows_along_and_unpublishing_those_that_show_it(ee):
    _, api = ee
    colls = library(api)
    by_name = tables(api)
    none = api.post("/api/ee/data-studio/table/publish-tables",
                    json={"table_ids": [by_name["orders"]["id"]], "collection_id": colls["library-metrics"]["id"]})
    assert (none.status_code, none.text) == (400, "Tables can only be published to Library/Data collections.")
    done = api.post("/api/ee/data-studio/table/publish-tables", json={"table_ids": [by_name["orders"]["id"]]})
    assert done.json()["target_collection"]["id"] == colls["library-data"]["id"]
    after = tables(api)
    assert after["orders"]["is_published"] and after["products"]["is_published"]  # orders shows products.title
    assert after["orders"]["collection_id"] == colls["library-data"]["id"]
    gone = api.post("/api/ee/data-studio/table/unpublish-tables", json={"table_ids": [by_name["products"]["id"]]})
    assert gone.status_code == 204
    after = tables(api)
    assert not after["products"]["is_published"] and not after["orders"]["is_published"]
    assert after["orders"]["collection_id"] is None


def test_publishing_needs_a_library_data_collection_the_feature_and_the_release():
    emu, api = instance()
    table = tables(api)["orders"]["id"]
    missing = api.post("/api/ee/data-studio/table/publish-tables", json={"table_ids": [table]})
    assert missing.status_code == 404
    _, oss = instance(premium=None)
    assert oss.post("/api/ee/library").status_code == 402
    assert oss.post("/api/ee/data-studio/table/publish-tables", json={"table_ids": [table]}).status_code == 402
    _, old = instance(profile="0.56")
    assert old.get("/api/ee/library").status_code == 404


def test_a_table_layer_follows_its_visibility_and_studio_values_are_checked(ee):
    _, api = ee
    orders = tables(api)["orders"]
    assert orders["data_layer"] == "internal"
    hidden = api.put(f"/api/table/{orders['id']}", json={"visibility_type": "technical"}).json()
    assert hidden["data_layer"] == "hidden"
    final = api.put(f"/api/table/{orders['id']}", json={"data_layer": "final"}).json()
    assert (final["data_layer"], final["visibility_type"]) == ("final", None)
    both = api.put(f"/api/table/{orders['id']}", json={"data_layer": "hidden", "visibility_type": "cruft"})
    assert (both.status_code, both.text) == (400, "Cannot update both visibility_type and data_layer")
    assert api.put(f"/api/table/{orders['id']}", json={"data_authority": "computed"}).status_code == 200
    back = api.put(f"/api/table/{orders['id']}", json={"data_authority": "unconfigured"})
    assert back.status_code == 400 and "back to unconfigured" in back.text
    assert api.put(f"/api/table/{orders['id']}", json={"data_layer": "gold"}).status_code == 400


def test_measures_and_metrics_keep_the_dimension_ids_their_first_read_made(ee):
    _, api = ee
    orders = tables(api)["orders"]
    measure = api.post("/api/measure", json={"name": "Total", "table_id": orders["id"],
                                             "definition": {"aggregation": [["count"]]}}).json()
    first = api.get(f"/api/measure/{measure['id']}").json()
    dims = first["dimensions"]
    assert dims and len({d["id"] for d in dims}) == len(dims) and sum(bool(d.get("default")) for d in dims) == 1
    assert {m["dimension-id"] for m in first["dimension_mappings"]} == {d["id"] for d in dims}
    assert api.get(f"/api/measure/{measure['id']}").json()["dimensions"] == dims
    query = {"database": orders["db_id"], "type": "query", "query": {"source-table": orders["id"],
                                                                     "aggregation": [["count"]]}}
    metric = api.post("/api/card", json={"name": "Orders", "type": "metric", "display": "scalar",
                                         "visualization_settings": {}, "dataset_query": query}).json()
    assert metric["dimensions"] is None  # a report_card column, null until the metric's first read
    seeded = api.get(f"/api/metric/{metric['id']}").json()["dimensions"]
    assert seeded and api.get(f"/api/card/{metric['id']}").json()["dimensions"] == seeded
    again = api.post("/api/measure", json={"name": "Again", "table_id": orders["id"],
                                           "definition": {"aggregation": [["count"]]}}).json()
    assert {d["id"] for d in api.get(f"/api/measure/{again['id']}").json()["dimensions"]}.isdisjoint(
        {d["id"] for d in dims})  # random per object: another instance can never make the same ones


def test_the_dashboards_section_holds_dashboards_and_their_questions_only(ee):
    """library/validation_test.clj `check-allowed-content-dashboards` (0.65): dashboards and their questions, no
    standalone question, model or metric, sub-collections of its type; no dashboard in Data or Metrics."""
    _, api = ee
    colls = library(api)
    home = colls["library-dashboards"]["id"]
    sub = api.post("/api/collection", json={"name": "Sales", "parent_id": home}).json()
    assert sub["type"] == "library-dashboards"
    dash = api.post("/api/dashboard", json={"name": "Board", "collection_id": sub["id"]})
    assert dash.status_code == 200, dash.text
    table = tables(api)["orders"]
    query = {"database": table["db_id"], "type": "query", "query": {"source-table": table["id"]}}
    card = {"name": "Q", "display": "table", "visualization_settings": {}, "dataset_query": query}
    inside = api.post("/api/card", json={**card, "dashboard_id": dash.json()["id"]})
    assert inside.status_code == 200 and inside.json()["collection_id"] == sub["id"], inside.text
    for kind in ("question", "model", "metric"):
        alone = api.post("/api/card", json={**card, "type": kind, "collection_id": home})
        assert (alone.status_code, alone.text) == (400, "Can only add dashboards to the 'Dashboards' collection")
    data = api.post("/api/dashboard", json={"name": "No", "collection_id": colls["library-data"]["id"]})
    assert (data.status_code, data.text) == (400, "Can only add tables to the 'Data' collection")
