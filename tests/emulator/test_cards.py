"""Cards behave like Metabase's (conformance items 7, 24-27, api-surface §4 and §22)."""

import json
from pathlib import Path

import pytest

from mbport.emulator import Emulator, bootstrap
from mbport.emulator.shapes import cards as cards_area
from mbport.emulator.store import is_entity_id
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client

RECORDED = Path("/work/shared/metabase/recorded")
NATIVE = {"database": 2, "type": "native", "native": {"query": "select 1", "template-tags": {}}}


def recorded(era: str, card_id: int) -> dict:
    return json.loads((RECORDED / era / "card" / f"{card_id}.json").read_text())


def new_card(client, name="Q", query=None, **body):
    payload = {"name": name, "display": "table", "dataset_query": query or NATIVE, "visualization_settings": {},
               **body}
    resp = client.post("/api/card", json=payload)
    assert resp.status_code == 200, resp.text
    return resp.json()


def new_collection(client, name, **body):
    resp = client.post("/api/collection", json={"name": name, **body})
    assert resp.status_code == 200, resp.text
    return resp.json()


def new_dashboard(client, name="D", **body):
    resp = client.post("/api/dashboard", json={"name": name, **body})
    assert resp.status_code == 200, resp.text
    return resp.json()


def admin_for(profile: str):
    emu = Emulator(profile)
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    return make_client(emu, **{"X-Metabase-Session": session})


# ---------------------------------------------------------------- create and read

@pytest.mark.allow_invalid_requests
def test_missing_required_fields_are_named(admin):
    resp = admin.post("/api/card", json={"name": "x"})
    assert resp.status_code == 400
    body = resp.json()
    assert {"display", "dataset_query", "visualization_settings"} <= set(body["errors"])
    assert "specific-errors" in body


@pytest.mark.allow_invalid_requests
def test_blank_description_is_rejected(admin):
    assert admin.post("/api/card", json={"name": "x", "display": "table", "dataset_query": NATIVE,
                                         "visualization_settings": {}, "description": ""}).status_code == 400


def test_client_entity_id_is_ignored_and_both_ids_read(admin):
    wanted = "abcdefghijklmnopqrstu"
    card = new_card(admin, entity_id=wanted)
    assert is_entity_id(card["entity_id"]) and card["entity_id"] != wanted
    by_id = admin.get(f"/api/card/{card['id']}")
    by_eid = admin.get(f"/api/card/{card['entity_id']}")
    assert by_id.status_code == by_eid.status_code == 200
    assert by_id.json()["id"] == by_eid.json()["id"] == card["id"]
    assert admin.get("/api/card/9999").status_code == 404


def test_response_has_the_recorded_keys(admin):
    card = new_card(admin)
    got = admin.get(f"/api/card/{card['id']}").json()
    expected = set(recorded("mbql5", 28))
    assert expected <= set(got), expected - set(got)
    assert got["creator"]["email"] == ADMIN_EMAIL and set(got["creator"]) == set(recorded("mbql5", 28)["creator"])
    assert got["collection"]["id"] == "root" and got["collection"]["is_personal"] is False
    assert got["last-edit-info"]["email"] == ADMIN_EMAIL
    assert got["type"] == "question" and got["archived"] is False and got["can_write"] is True
    assert got["metabase_version"].startswith("v0.61")


def test_mbql4_is_stored_as_mbql5_and_legacy_on_request(admin):
    legacy = recorded("mbql4", 28)["dataset_query"]
    base = new_card(admin, "Base", recorded("mbql4", 33)["dataset_query"])
    legacy = {**legacy, "query": {**legacy["query"], "source-table": f"card__{base['id']}"}}
    card = new_card(admin, "On base", legacy)
    stored = card["dataset_query"]
    assert stored["lib/type"] == "mbql/query" and stored["stages"][0]["source-card"] == base["id"]
    assert stored["stages"][0]["filters"][0][0] == "="
    again = admin.get(f"/api/card/{card['id']}").json()
    assert again["dataset_query"] == stored
    as_legacy = admin.get(f"/api/card/{card['id']}", params={"legacy-mbql": "true"}).json()
    assert as_legacy["dataset_query"] == legacy
    assert json.loads(again["legacy_query"]) == legacy
    assert again["database_id"] == 2 and again["query_type"] == "query"
    assert again["source_card_id"] == base["id"] and again["table_id"] == 18


def test_native_card_columns(admin):
    card = new_card(admin)
    assert card["query_type"] == "native" and card["table_id"] is None and card["database_id"] == 2
    assert card["dataset_query"]["stages"][0] == {"lib/type": "mbql.stage/native", "native": "select 1"}


def test_profile_063_returns_tag_lists_and_null_legacy_query():
    admin = admin_for("0.63")
    tags = {"x": {"id": "1", "name": "x", "display-name": "X", "type": "text"}}
    card = new_card(admin, query={"database": 2, "type": "native",
                                  "native": {"query": "select {{x}}", "template-tags": tags}})
    assert card["dataset_query"]["stages"][0]["template-tags"] == [tags["x"]]
    assert card["legacy_query"] is None
    legacy = admin.get(f"/api/card/{card['id']}", params={"legacy-mbql": "true"}).json()["dataset_query"]
    assert legacy["native"]["template-tags"] == tags


def test_profile_056_stores_mbql4():
    admin = admin_for("0.56")
    card = new_card(admin, query=recorded("mbql4", 33)["dataset_query"])
    assert card["dataset_query"] == recorded("mbql4", 33)["dataset_query"]
    assert "legacy_query" not in card and "document_id" not in card
    # source_card_id (0.51, metabase#46356) and card_schema (0.55, metabase#55714) predate 0.57
    assert card["card_schema"] == 22 and card["source_card_id"] is None
    assert card["table_id"] == 18


def test_mbql5_input_is_kept(admin):
    given = recorded("mbql5", 27)["dataset_query"]
    card = new_card(admin, query=given)
    assert card["dataset_query"] == given
    assert card["table_id"] == 10


def test_collection_by_entity_id_and_type(admin):
    coll = new_collection(admin, "Models")
    model = new_card(admin, "M", collection_id=coll["entity_id"], type="model")
    assert model["collection_id"] == coll["id"] and model["type"] == "model"
    assert model["collection"]["name"] == "Models" and model["collection"]["is_personal"] is False
    assert new_card(admin, "Metric", type="metric")["type"] == "metric"


def test_cannot_create_in_trash_or_missing_collection(admin):
    trash = admin.get("/api/collection/trash").json()
    payload = {"name": "x", "display": "table", "dataset_query": NATIVE, "visualization_settings": {}}
    made = admin.post("/api/card", json={**payload, "collection_id": trash["id"]})
    assert (made.status_code, made.text) == (400, "You cannot modify the Trash Collection.")  # collection.clj `check-write-perms-for-collection`
    assert admin.post("/api/card", json={**payload, "collection_id": 9999}).status_code == 404


# ---------------------------------------------------------------- dashboard questions

def test_dashboard_question_takes_the_dashboards_collection(admin):
    coll = new_collection(admin, "Home")
    dash = new_dashboard(admin, collection_id=coll["id"])
    card = new_card(admin, "DQ", dashboard_id=dash["id"])
    assert card["collection_id"] == coll["id"] and card["dashboard_id"] == dash["id"]
    assert card["dashboard"]["id"] == dash["id"] and card["dashboard"]["name"] == "D"
    assert card["dashboard_count"] == 1, "the dashboards area auto-places a dashcard"
    assert [d["id"] for d in admin.get(f"/api/card/{card['id']}/dashboards").json()] == [dash["id"]]


def test_dashboard_question_collection_mismatch(admin):
    coll = new_collection(admin, "Home")
    dash = new_dashboard(admin, collection_id=coll["id"])
    other = new_collection(admin, "Elsewhere")
    payload = {"name": "x", "display": "table", "dataset_query": NATIVE, "visualization_settings": {},
               "dashboard_id": dash["id"]}
    resp = admin.post("/api/card", json={**payload, "collection_id": other["id"]})
    assert resp.status_code == 400
    assert resp.text == (f"Mismatch detected between Dashboard's `collection_id` ({coll['id']}) "
                         f"and `collection_id` ({other['id']})")
    assert admin.post("/api/card", json={**payload, "collection_id": coll["id"]}).status_code == 200


def test_tab_without_dashboard_is_400(admin):
    resp = admin.post("/api/card", json={"name": "x", "display": "table", "dataset_query": NATIVE,
                                         "visualization_settings": {}, "dashboard_tab_id": 3})
    assert resp.status_code == 400


def test_moving_a_dashboard_question(admin):
    dash = new_dashboard(admin)
    other = new_dashboard(admin, "Other")
    card = new_card(admin, "DQ", dashboard_id=dash["id"])
    moved = admin.put(f"/api/card/{card['id']}", json={"dashboard_id": other["id"]}).json()
    assert moved["dashboard_id"] == other["id"]
    assert [d["id"] for d in admin.get(f"/api/card/{card['id']}/dashboards").json()] == [other["id"]]
    coll = new_collection(admin, "Out")
    out = admin.put(f"/api/card/{card['id']}", params={"delete_old_dashcards": "true"},
                    json={"dashboard_id": None, "collection_id": coll["id"]}).json()
    assert out["dashboard_id"] is None and out["collection_id"] == coll["id"] and out["dashboard_count"] == 0


def test_archiving_a_dashboard_question_removes_its_dashcard(admin):
    dash = new_dashboard(admin)
    card = new_card(admin, "DQ", dashboard_id=dash["id"])
    archived = admin.put(f"/api/card/{card['id']}", json={"archived": True}).json()
    assert archived["archived"] is True and archived["dashboard_count"] == 0
    restored = admin.put(f"/api/card/{card['id']}", json={"archived": False}).json()
    assert restored["archived"] is False and restored["dashboard_count"] == 1


# ---------------------------------------------------------------- list

def test_list_filters(admin, emulator):
    dash = new_dashboard(admin)
    question = new_card(admin, "b question")
    dq = new_card(admin, "A dashboard question", dashboard_id=dash["id"])
    model = new_card(admin, "C model", type="model")
    user_on_model = new_card(admin, "D on model", {"database": 2, "type": "query",
                                                   "query": {"source-table": f"card__{model['id']}"}})
    gone = new_card(admin, "E gone")
    admin.put(f"/api/card/{gone['id']}", json={"archived": True})
    everything = admin.get("/api/card").json()
    assert isinstance(everything, list)
    assert [c["id"] for c in everything] == [dq["id"], question["id"], model["id"], user_on_model["id"]]
    first = everything[0]
    assert first["dataset_query"]["lib/type"] == "mbql/query" and first["creator"]["email"] == ADMIN_EMAIL
    assert first["collection"] is None and "last-edit-info" in first
    assert [c["id"] for c in admin.get("/api/card", params={"f": "archived"}).json()] == [gone["id"]]
    assert len(admin.get("/api/card", params={"f": "mine"}).json()) == 4
    using = admin.get("/api/card", params={"f": "using_model", "model_id": model["id"]}).json()
    assert [c["id"] for c in using] == [user_on_model["id"]]
    assert admin.get("/api/card", params={"f": "bookmarked"}).json() == []


@pytest.mark.allow_invalid_requests
def test_filters_needing_model_id(admin):
    resp = admin.get("/api/card", params={"f": "database"})
    assert resp.status_code == 400
    assert resp.json() == {"errors": {"model_id": "model_id is a required parameter when filter mode is 'database'"}}
    assert admin.get("/api/card", params={"f": "table", "model_id": 999}).status_code == 404
    assert admin.get("/api/card", params={"f": "nonsense"}).status_code == 400


def test_non_admin_cannot_read_cards_in_other_personal_collections(admin, emulator):
    created = admin.post("/api/user", json={"email": "rita@example.com", "first_name": "Rita", "last_name": "Ross",
                                            "password": "Us3r-passw0rd!"})
    assert created.status_code == 200
    session = make_client(emulator).post("/api/session", json={"username": "rita@example.com",
                                                               "password": "Us3r-passw0rd!"}).json()["id"]
    rita = make_client(emulator, **{"X-Metabase-Session": session})
    admin_personal = next(c for c in admin.get("/api/collection", params={"personal-only": "true"}).json()
                          if c["personal_owner_id"] == 1)
    secret = new_card(admin, "Secret", collection_id=admin_personal["id"])
    public = new_card(admin, "Public")
    assert rita.get(f"/api/card/{secret['id']}").status_code == 403
    assert [c["id"] for c in rita.get("/api/card").json()] == [public["id"]]
    assert {c["id"] for c in admin.get("/api/card").json()} == {secret["id"], public["id"]}
    assert rita.put(f"/api/card/{secret['id']}", json={"name": "mine now"}).status_code == 403


# ---------------------------------------------------------------- update, archive, delete

def test_partial_update_keeps_other_fields(admin):
    card = new_card(admin, "Before", description="kept", visualization_settings={"a": 1})
    updated = admin.put(f"/api/card/{card['id']}", json={"name": "After"}).json()
    assert updated["name"] == "After" and updated["description"] == "kept"
    assert updated["visualization_settings"] == {"a": 1} and updated["entity_id"] == card["entity_id"]
    cleared = admin.put(f"/api/card/{card['id']}", json={"description": None, "display": None}).json()
    assert cleared["description"] is None and cleared["display"] == "table"
    requery = admin.put(f"/api/card/{card['id']}", json={"dataset_query": recorded("mbql4", 33)["dataset_query"]})
    assert requery.json()["query_type"] == "query" and requery.json()["table_id"] == 18
    as_model = admin.put(f"/api/card/{card['id']}", json={"type": "model", "display": "bar"}).json()
    assert as_model["type"] == "model" and as_model["display"] == "table"


def test_archive_presents_card_in_trash_and_restores(admin):
    coll = new_collection(admin, "Home")
    card = new_card(admin, "Bin me", collection_id=coll["id"])
    archived = admin.put(f"/api/card/{card['id']}", json={"archived": True, "collection_id": None}).json()
    assert archived["archived"] is True and archived["archived_directly"] is True
    assert archived["can_restore"] is True and archived["can_delete"] is True
    got = admin.get(f"/api/card/{card['id']}").json()
    trash = admin.get("/api/collection/trash").json()
    assert got["collection_id"] == trash["id"], "0.61 presents directly trashed cards in the Trash"
    assert got["collection"]["id"] == coll["id"], "the hydrated collection stays the original home"
    assert [c["id"] for c in admin.get("/api/card", params={"f": "archived"}).json()] == [card["id"]]
    restored = admin.put(f"/api/card/{card['id']}", json={"archived": False}).json()
    assert restored["archived"] is False and restored["collection_id"] == coll["id"]
    assert restored["archived_directly"] is False


def test_move_to_trash_is_refused(admin):
    card = new_card(admin)
    trash = admin.get("/api/collection/trash").json()
    moved = admin.put(f"/api/card/{card['id']}", json={"collection_id": trash["id"]})
    assert (moved.status_code, moved.text) == (400, "You cannot modify the Trash Collection.")


def test_cycles_are_rejected(admin):
    a = new_card(admin, "A")
    b = new_card(admin, "B", {"database": 2, "type": "query", "query": {"source-table": f"card__{a['id']}"}})
    cycle = {"database": 2, "type": "query", "query": {"source-table": f"card__{b['id']}"}}
    resp = admin.put(f"/api/card/{a['id']}", json={"dataset_query": cycle})
    assert resp.status_code == 400 and resp.text == "Cannot save card with cycles."
    self_ref = {"database": 2, "type": "native", "native": {"query": "select * from {{#1}}", "template-tags": {
        "#1": {"id": "t", "name": f"#{a['id']}", "display-name": "A", "type": "card", "card-id": a["id"]}}}}
    assert admin.put(f"/api/card/{a['id']}", json={"dataset_query": self_ref}).status_code == 400


def test_delete_is_hard(admin):
    card = new_card(admin)
    resp = admin.delete(f"/api/card/{card['id']}")
    assert resp.status_code == 204 and resp.content == b""
    assert admin.get(f"/api/card/{card['id']}").status_code == 404
    assert admin.delete(f"/api/card/{card['id']}").status_code == 404


# ---------------------------------------------------------------- copy and bulk moves

def test_copy(admin):
    coll = new_collection(admin, "Here")
    card = new_card(admin, "Original", collection_id=coll["id"], description="d")
    copy = admin.post(f"/api/card/{card['id']}/copy")
    assert copy.status_code == 200
    body = copy.json()
    assert body["name"] == "Copy of Original" and body["id"] != card["id"]
    assert body["entity_id"] != card["entity_id"] and body["collection_id"] == coll["id"]
    assert body["dataset_query"] == card["dataset_query"] and body["description"] == "d"


def test_bulk_moves(admin):
    coll = new_collection(admin, "Target")
    one, two = new_card(admin, "one"), new_card(admin, "two")
    resp = admin.post("/api/card/collections", json={"card_ids": [one["id"], two["id"]], "collection_id": coll["id"]})
    assert resp.json() == {"status": "ok"}
    assert {admin.get(f"/api/card/{c['id']}").json()["collection_id"] for c in (one, two)} == {coll["id"]}
    dash = new_dashboard(admin, collection_id=coll["id"])
    moved = admin.post("/api/cards/move", json={"card_ids": [one["id"]], "dashboard_id": dash["id"]})
    assert moved.json() == {"status": "success"}
    assert admin.get(f"/api/card/{one['id']}").json()["dashboard_id"] == dash["id"]
    on = admin.post("/api/cards/dashboards", json={"card_ids": [one["id"], two["id"]]}).json()
    assert on == [{"card_id": one["id"], "dashboards": [{"id": dash["id"], "name": "D"}]},
                  {"card_id": two["id"], "dashboards": []}]


def test_hydrate_card_helper_for_other_areas(admin, emulator):
    card = new_card(admin)
    row = emulator.state.table("card").get(card["id"])
    hydrated = cards_area.hydrate_card(emulator.state, row, legacy_mbql=True)
    assert hydrated["dataset_query"] == NATIVE and hydrated["can_write"] is True
