"""Segments, measures and read-only metrics behave like Metabase's (api-surface §15, §22; conformance 35)."""

from __future__ import annotations

import pytest

from mbport.emulator import Emulator, bootstrap
from tests.conftest import make_client
from tests.emulator.test_permissions_graph import add_database, add_field, add_user


@pytest.fixture
def orders(emulator, admin):
    _, tables = add_database(emulator, admin, tables=((None, "orders"),))
    table = tables[0]
    return table, add_field(emulator, table, "total")


def segment_body(table, field, name="Big orders", **extra):
    return {"name": name, "table_id": table["id"],
            "definition": {"source-table": table["id"], "filter": [">", ["field", field["id"], None], 50]}, **extra}


# ---- segments ----

def test_segment_create_get_list(emulator, admin, orders):
    table, field = orders
    resp = admin.post("/api/segment", json=segment_body(table, field, description="Orders over 50"))
    assert resp.status_code == 200
    created = resp.json()
    assert created["name"] == "Big orders" and created["table_id"] == table["id"]
    assert created["description"] == "Orders over 50"
    assert created["archived"] is False
    assert len(created["entity_id"]) == 21
    assert created["creator"]["email"] == "admin@example.com"
    assert created["definition"] == segment_body(table, field)["definition"]
    assert admin.get(f"/api/segment/{created['id']}").json()["name"] == "Big orders"
    listed = admin.get("/api/segment").json()
    assert isinstance(listed, list) and [s["id"] for s in listed] == [created["id"]]
    assert listed[0]["creator"]["id"] == created["creator_id"]
    assert listed[0]["definition_description"] == "Filtered by Total is greater than 50"


def test_segment_list_is_sorted_and_hides_archived(emulator, admin, orders):
    table, field = orders
    b = admin.post("/api/segment", json=segment_body(table, field, "beta")).json()
    a = admin.post("/api/segment", json=segment_body(table, field, "Alpha")).json()
    gone = admin.post("/api/segment", json=segment_body(table, field, "Gone")).json()
    admin.put(f"/api/segment/{gone['id']}", json={"archived": True, "revision_message": "retired"}).raise_for_status()
    assert [s["id"] for s in admin.get("/api/segment").json()] == [a["id"], b["id"]]
    # Archived segments stay reachable by id.
    assert admin.get(f"/api/segment/{gone['id']}").json()["archived"] is True


def test_segment_put_updates_present_keys(emulator, admin, orders):
    table, field = orders
    seg = admin.post("/api/segment", json=segment_body(table, field, description="old")).json()
    resp = admin.put(f"/api/segment/{seg['id']}", json={
        "revision_message": "tighten", "name": "Huge orders", "description": None, "caveats": "approximate",
        "definition": {"source-table": table["id"], "filter": [">", ["field", field["id"], None], 500]},
    })
    assert resp.status_code == 200
    updated = resp.json()
    assert updated["name"] == "Huge orders"
    assert updated["description"] is None and updated["caveats"] == "approximate"
    assert updated["definition"]["filter"][2] == 500
    # A null name is "not given", not a blank name.
    again = admin.put(f"/api/segment/{seg['id']}", json={"revision_message": "x", "name": None}).json()
    assert again["name"] == "Huge orders"


@pytest.mark.allow_invalid_requests
def test_segment_put_without_revision_message_is_400(emulator, admin, orders):
    table, field = orders
    seg = admin.post("/api/segment", json=segment_body(table, field)).json()
    resp = admin.put(f"/api/segment/{seg['id']}", json={"name": "Renamed"})
    assert resp.status_code == 400
    assert "revision_message" in resp.json()["errors"]
    assert admin.get(f"/api/segment/{seg['id']}").json()["name"] == "Big orders"


@pytest.mark.allow_invalid_requests
def test_segment_delete_needs_revision_message_and_archives(emulator, admin, orders):
    table, field = orders
    seg = admin.post("/api/segment", json=segment_body(table, field)).json()
    assert admin.delete(f"/api/segment/{seg['id']}").status_code == 400
    assert admin.delete(f"/api/segment/{seg['id']}", params={"revision_message": "bye"}).status_code == 204
    assert admin.get(f"/api/segment/{seg['id']}").json()["archived"] is True
    assert admin.get("/api/segment").json() == []


@pytest.mark.allow_invalid_requests
def test_segment_create_validation_and_missing(emulator, admin, orders):
    table, field = orders
    resp = admin.post("/api/segment", json={"name": "No table", "definition": {}})
    assert resp.status_code == 400 and "table_id" in resp.json()["errors"]
    assert admin.get("/api/segment/999").status_code == 404
    assert admin.get("/api/segment/999").text == "Not found."


def test_segment_writes_need_an_admin(emulator, admin, orders):
    table, field = orders
    seg = admin.post("/api/segment", json=segment_body(table, field)).json()
    rasta = add_user(emulator, "rasta@example.com")
    assert rasta.post("/api/segment", json=segment_body(table, field)).status_code == 403
    assert rasta.put(f"/api/segment/{seg['id']}", json={"revision_message": "x", "name": "y"}).status_code == 403
    assert rasta.get(f"/api/segment/{seg['id']}").status_code == 200


# ---- measures ----

def measure_body(table, field, name="Revenue", definition=None):
    return {"name": name, "table_id": table["id"],
            "definition": definition or {"aggregation": [["sum", ["field", field["id"], None]]]}}


def test_measure_create_get_list(emulator, admin, orders):
    table, field = orders
    resp = admin.post("/api/measure", json=measure_body(table, field))
    assert resp.status_code == 200
    measure = resp.json()
    for key in ("id", "name", "table_id", "definition", "archived", "creator_id", "created_at", "updated_at"):
        assert key in measure
    assert measure["archived"] is False and measure["creator"]["email"] == "admin@example.com"
    assert admin.get(f"/api/measure/{measure['id']}").json()["name"] == "Revenue"
    listed = admin.get("/api/measure").json()
    assert [m["id"] for m in listed] == [measure["id"]]
    assert listed[0]["definition_description"] == "Sum of Total"


def test_measure_definition_is_stored_as_full_mbql5(emulator, admin, orders):
    table, field = orders
    measure = admin.post("/api/measure", json=measure_body(table, field)).json()
    definition = measure["definition"]
    assert definition["lib/type"] == "mbql/query"
    assert definition["database"] == table["db_id"]
    assert definition["stages"][0]["source-table"] == table["id"]
    assert definition["stages"][0]["aggregation"][0][0] == "sum"


def test_measure_keeps_an_mbql5_definition(emulator, admin, orders):
    table, field = orders
    mbql5 = {"lib/type": "mbql/query", "database": table["db_id"], "stages": [{
        "lib/type": "mbql.stage/mbql", "source-table": table["id"],
        "aggregation": [["count", {"lib/uuid": "2f1e0b6c-6f4e-4a53-9d3c-4a3c6d1f0e11"}]]}]}
    measure = admin.post("/api/measure", json=measure_body(table, field, definition=mbql5)).json()
    assert measure["definition"] == mbql5
    assert admin.get("/api/measure").json()[0]["definition_description"] == "Count"


def test_measure_put_and_archive(emulator, admin, orders):
    table, field = orders
    measure = admin.post("/api/measure", json=measure_body(table, field)).json()
    resp = admin.put(f"/api/measure/{measure['id']}", json={"revision_message": "rename", "name": "Sales"})
    assert resp.status_code == 200 and resp.json()["name"] == "Sales"
    admin.put(f"/api/measure/{measure['id']}", json={"revision_message": "retire", "archived": True}).raise_for_status()
    assert admin.get("/api/measure").json() == []
    assert admin.get(f"/api/measure/{measure['id']}").json()["archived"] is True


@pytest.mark.allow_invalid_requests
def test_measure_put_without_revision_message_is_400(emulator, admin, orders):
    table, field = orders
    measure = admin.post("/api/measure", json=measure_body(table, field)).json()
    resp = admin.put(f"/api/measure/{measure['id']}", json={"name": "Sales"})
    assert resp.status_code == 400
    assert "revision_message" in resp.json()["errors"]
    assert admin.get(f"/api/measure/{measure['id']}").json()["name"] == "Revenue"


def test_measures_and_metrics_do_not_exist_before_059():
    emu = Emulator("0.56")
    session = bootstrap.setup_admin(emu, "a@example.com", "Passw0rd!x")
    client = make_client(emu, **{"X-Metabase-Session": session})
    assert client.get("/api/measure").status_code == 404
    assert client.get("/api/metric").status_code == 404


# ---- read-only metrics ----

def add_card(emu: Emulator, admin, name: str, card_type: str, database_id: int, table_id: int, *,
             collection_id: int | None = None, archived: bool = False) -> dict:
    """A card as the cards area stores it (through the API when it is served)."""
    from tests.emulator.test_permissions_graph import has_route

    query = {"database": database_id, "type": "query", "query": {"source-table": table_id}}
    if has_route(emu, "POST", "/api/card"):
        resp = admin.post("/api/card", json={"name": name, "type": card_type, "display": "table",
                                             "dataset_query": query, "visualization_settings": {},
                                             "collection_id": collection_id})
        assert resp.status_code == 200, resp.text
        card = emu.state.table("card").get(resp.json()["id"])
        if archived:
            admin.put(f"/api/card/{card['id']}", json={"archived": True}).raise_for_status()
        return card
    return emu.state.table("card").insert({
        "name": name, "type": card_type, "display": "table", "dataset_query": query, "database_id": database_id,
        "table_id": table_id, "collection_id": collection_id, "archived": archived, "description": None,
        "visualization_settings": {}, "creator_id": 1,
    }, now=emu.state.now())


def test_metric_list_and_get(emulator, admin, orders):
    table, _ = orders
    metric = add_card(emulator, admin, "Order count", "metric", table["db_id"], table["id"])
    add_card(emulator, admin, "A question", "question", table["db_id"], table["id"])
    add_card(emulator, admin, "Old metric", "metric", table["db_id"], table["id"], archived=True)
    listed = admin.get("/api/metric").json()
    assert set(listed) == {"data", "total", "limit", "offset"}
    assert listed["total"] == 1 and listed["limit"] is None
    assert listed["data"] == [{"id": metric["id"], "name": "Order count", "description": None,
                               "collection_id": None, "collection": None}]
    paged = admin.get("/api/metric", params={"limit": 1, "offset": 0}).json()
    assert paged["limit"] == 1 and paged["offset"] == 0
    one = admin.get(f"/api/metric/{metric['id']}").json()
    assert one["id"] == metric["id"] and one["database_id"] == table["db_id"]
    assert one["dataset_query"] == metric["dataset_query"]
    question = emulator.state.table("card").first(type="question")
    assert admin.get(f"/api/metric/{question['id']}").status_code == 404
