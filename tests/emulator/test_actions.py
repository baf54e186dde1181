"""Actions behave like Metabase's (api-surface §16, §22): models only, actions enabled per database."""

from __future__ import annotations

import pytest

from mbport.emulator import Emulator, bootstrap
from tests.conftest import make_client
from tests.emulator.test_collection_graph import add_collection, put_graph
from tests.emulator.test_permissions_graph import add_database, add_user, group_ids
from tests.emulator.test_segments_measures import add_card

NATIVE = "UPDATE orders SET total = {{total}} WHERE id = {{id}}"


@pytest.fixture
def emulator() -> Emulator:
    """The emulator's warehouses are SQLite, whose Metabase driver has no actions: these tests need the switch."""
    return Emulator(sqlite_actions=True)


@pytest.fixture
def shop(emulator, admin):
    """An actions-enabled database with a model on its orders table."""
    db, tables = add_database(emulator, admin, "Shop", enable_actions=True)
    model = add_card(emulator, admin, "Orders model", "model", db["id"], tables[0]["id"])
    return db, tables[0], model


def query_action(db, model, **extra):
    return {"name": "Set total", "type": "query", "model_id": model["id"], "database_id": db["id"],
            "dataset_query": {"database": db["id"], "type": "native", "native": {"query": NATIVE}},
            "parameters": [{"id": "total", "type": "number/=", "target": ["variable", ["template-tag", "total"]]}],
            **extra}


def test_create_query_action_and_read_it_back(emulator, admin, shop):
    db, _, model = shop
    resp = admin.post("/api/action", json=query_action(db, model, description="Fix a total"))
    assert resp.status_code == 200, resp.text
    action = resp.json()
    assert action["type"] == "query" and action["model_id"] == model["id"] and action["database_id"] == db["id"]
    assert action["description"] == "Fix a total" and action["archived"] is False
    assert action["public_uuid"] is None and action["made_public_by_id"] is None
    assert len(action["entity_id"]) == 21
    assert action["parameters"][0]["id"] == "total"
    assert "kind" not in action and "template" not in action
    fetched = admin.get(f"/api/action/{action['id']}").json()
    assert fetched["creator"]["email"] == "admin@example.com"
    assert fetched["dataset_query"] == action["dataset_query"]
    listed = admin.get("/api/action").json()
    assert [a["id"] for a in listed] == [action["id"]] and listed[0]["creator"]["id"] == action["creator_id"]


def test_query_is_stored_like_card_queries(emulator, admin, shop):
    db, _, model = shop
    action = admin.post("/api/action", json=query_action(db, model)).json()
    stage = action["dataset_query"]["stages"][0]
    assert action["dataset_query"]["lib/type"] == "mbql/query"
    assert stage["lib/type"] == "mbql.stage/native" and stage["native"] == NATIVE


def test_list_filters_by_model(emulator, admin, shop):
    db, table, model = shop
    other = add_card(emulator, admin, "Other model", "model", db["id"], table["id"])
    first = admin.post("/api/action", json=query_action(db, model)).json()
    second = admin.post("/api/action", json=query_action(db, other, name="Other")).json()
    assert [a["id"] for a in admin.get("/api/action", params={"model-id": other["id"]}).json()] == [second["id"]]
    assert {a["id"] for a in admin.get("/api/action").json()} == {first["id"], second["id"]}


def test_query_action_needs_a_database(emulator, admin, shop):
    db, _, model = shop
    body = query_action(db, model)
    del body["database_id"]
    resp = admin.post("/api/action", json=body)
    assert resp.status_code == 400
    assert resp.text == "Must provide a database_id for query actions"


def test_actions_must_be_enabled_on_the_database(emulator, admin):
    db, tables = add_database(emulator, admin, "Locked")
    model = add_card(emulator, admin, "Locked model", "model", db["id"], tables[0]["id"])
    resp = admin.post("/api/action", json=query_action(db, model))
    assert resp.status_code == 400
    assert resp.json() == {"message": "Actions are not enabled.", "database-id": db["id"]}
    assert admin.get("/api/action").json() == []


def test_actions_need_a_model_not_a_question(emulator, admin, shop):
    db, table, _ = shop
    question = add_card(emulator, admin, "A question", "question", db["id"], table["id"])
    resp = admin.post("/api/action", json=query_action(db, question))
    assert resp.status_code == 400
    assert resp.text == "Actions must be made with models, not cards."
    assert admin.post("/api/action", json=query_action(db, {"id": 9999})).status_code == 404


def test_implicit_actions(emulator, admin, shop):
    db, table, model = shop
    resp = admin.post("/api/action", json={"name": "Delete order", "type": "implicit", "kind": "row/delete",
                                           "model_id": model["id"]})
    assert resp.status_code == 200, resp.text
    action = resp.json()
    assert action["kind"] == "row/delete" and action["database_id"] == db["id"]
    assert "dataset_query" not in action


def test_implicit_actions_need_a_plain_model(emulator, admin, shop):
    db, table, _ = shop
    filtered = add_card(emulator, admin, "Big orders", "model", db["id"], table["id"])
    query = filtered["dataset_query"]
    if "stages" in query:
        query["stages"][0]["limit"] = 10
    else:
        query["query"]["limit"] = 10
    resp = admin.post("/api/action", json={"name": "Create", "type": "implicit", "kind": "row/create",
                                           "model_id": filtered["id"]})
    assert resp.status_code == 400
    assert resp.text == "Implicit actions are not supported for models with clauses."


@pytest.mark.allow_invalid_requests
def test_unknown_implicit_kind_is_rejected(emulator, admin, shop):
    _, _, model = shop
    resp = admin.post("/api/action", json={"name": "Upsert", "type": "implicit", "kind": "row/upsert",
                                           "model_id": model["id"]})
    assert resp.status_code == 400
    assert "kind" in resp.json()["errors"]
    no_kind = admin.post("/api/action", json={"name": "Something", "type": "implicit", "model_id": model["id"]})
    assert no_kind.status_code == 400
    assert admin.get("/api/action").json() == []


def test_http_actions_are_gone_on_061(emulator, admin, shop):
    _, _, model = shop
    resp = admin.post("/api/action", json={"name": "Webhook", "type": "http", "model_id": model["id"],
                                           "template": {"method": "POST", "url": "https://example.com/hook"}})
    assert resp.status_code == 400
    assert resp.text == "HTTP actions are not supported."


def test_http_actions_on_056():
    emu = Emulator("0.56", sqlite_actions=True)
    client = make_client(emu, **{"X-Metabase-Session": bootstrap.setup_admin(emu, "a@example.com", "Passw0rd!x")})
    db, tables = add_database(emu, client, "Shop", enable_actions=True)
    model = add_card(emu, client, "Orders model", "model", db["id"], tables[0]["id"])
    resp = client.post("/api/action", json={"name": "Webhook", "type": "http", "model_id": model["id"],
                                            "template": {"method": "POST", "url": "https://example.com/hook"},
                                            "response_handle": ".ok"})
    assert resp.status_code == 200, resp.text
    action = resp.json()
    assert action["template"]["url"] == "https://example.com/hook" and action["response_handle"] == ".ok"
    assert action["error_handle"] is None


def test_update_archive_and_delete(emulator, admin, shop):
    db, _, model = shop
    action = admin.post("/api/action", json=query_action(db, model)).json()
    resp = admin.put(f"/api/action/{action['id']}", json={"name": "Set order total", "description": "v2"})
    assert resp.status_code == 200
    assert resp.json()["name"] == "Set order total" and resp.json()["description"] == "v2"
    assert resp.json()["dataset_query"] == action["dataset_query"]
    admin.put(f"/api/action/{action['id']}", json={"archived": True}).raise_for_status()
    assert admin.get(f"/api/action/{action['id']}").status_code == 404
    assert admin.get("/api/action").json() == []
    admin.put(f"/api/action/{action['id']}", json={"archived": False}).raise_for_status()
    assert admin.get(f"/api/action/{action['id']}").status_code == 200
    assert admin.delete(f"/api/action/{action['id']}").status_code == 204
    assert admin.get(f"/api/action/{action['id']}").status_code == 404
    assert admin.delete(f"/api/action/{action['id']}").status_code == 404


def test_changing_type_swaps_the_type_specific_keys(emulator, admin, shop):
    db, _, model = shop
    action = admin.post("/api/action", json=query_action(db, model)).json()
    resp = admin.put(f"/api/action/{action['id']}", json={"type": "implicit", "kind": "row/update"})
    assert resp.status_code == 200
    assert resp.json()["kind"] == "row/update" and "dataset_query" not in resp.json()


def test_update_to_a_question_is_rejected(emulator, admin, shop):
    db, table, model = shop
    question = add_card(emulator, admin, "A question", "question", db["id"], table["id"])
    action = admin.post("/api/action", json=query_action(db, model)).json()
    resp = admin.put(f"/api/action/{action['id']}", json={"model_id": question["id"]})
    assert resp.status_code == 400
    assert admin.get(f"/api/action/{action['id']}").json()["model_id"] == model["id"]


def test_actions_of_archived_models_are_not_listed(emulator, admin, shop):
    db, _, model = shop
    admin.post("/api/action", json=query_action(db, model)).raise_for_status()
    emulator.state.table("card").get(model["id"])["archived"] = True
    assert admin.get("/api/action").json() == []


def test_access_follows_the_models_collection(emulator, admin):
    db, tables = add_database(emulator, admin, "Shop", enable_actions=True)
    locked = add_collection(emulator, admin, "Finance")
    all_users, _ = group_ids(emulator)
    graph = admin.get("/api/collection/graph").json()
    put_graph(admin, {str(all_users): {str(locked): "read"}}, graph["revision"]).raise_for_status()
    model = add_card(emulator, admin, "Ledger", "model", db["id"], tables[0]["id"], collection_id=locked)
    action = admin.post("/api/action", json=query_action(db, model)).json()
    rasta = add_user(emulator, "rasta@example.com")
    assert rasta.get(f"/api/action/{action['id']}").status_code == 200
    assert rasta.post("/api/action", json=query_action(db, model)).status_code == 403
    assert rasta.put(f"/api/action/{action['id']}", json={"name": "x"}).status_code == 403
    put_graph(admin, {str(all_users): {str(locked): "none"}}, graph["revision"] + 1).raise_for_status()
    assert rasta.get(f"/api/action/{action['id']}").status_code == 403
    assert rasta.get("/api/action").json() == []


def test_a_database_whose_driver_lacks_actions_refuses_them_before_the_setting():
    """actions.core `check-actions-enabled-for-database!`: the driver's :actions feature, then the setting; and
    `PUT /api/database/:id` refuses the setting on such a database (`validate-settable-for-db!`)."""
    emu = Emulator()  # SQLite as Metabase has it: no actions feature
    client = make_client(emu, **{"X-Metabase-Session": bootstrap.setup_admin(emu, "a@example.com", "Passw0rd!x")})
    db, tables = add_database(emu, client, "Lite")
    assert "actions" not in client.get(f"/api/database/{db['id']}").json()["features"]
    resp = client.put(f"/api/database/{db['id']}", json={"settings": {"database-enable-actions": True}})
    assert resp.status_code == 400
    assert resp.json()["message"] == ("Setting database-enable-actions requires driver feature :actions, but the "
                                      "database does not support it")
    assert client.get(f"/api/database/{db['id']}").json()["settings"] is None
    model = add_card(emu, client, "Lite model", "model", db["id"], tables[0]["id"])
    resp = client.post("/api/action", json=query_action(db, model))
    assert resp.status_code == 400
    assert resp.json() == {"message": f'sqlite Database {db["id"]} "Lite" does not support actions.',
                           "database-id": db["id"]}
    emu.sqlite_actions = True  # the switch: SQLite now claims the feature, the setting is what is missing
    assert "actions" in client.get(f"/api/database/{db['id']}").json()["features"]
    assert client.post("/api/action", json=query_action(db, model)).json()["message"] == "Actions are not enabled."


def test_action_buttons_leave_their_dashboards_when_archived_or_deleted(emulator, admin, shop):
    """The `action.removed` event: the dashboards area deletes the action's buttons (dashcards with action_id)."""
    db, _, model = shop
    dash = admin.post("/api/dashboard", json={"name": "Ops"}).json()
    ids = []
    for name in ("Archived", "Deleted"):
        action = admin.post("/api/action", json=query_action(db, model, name=name)).json()
        ids.append(action["id"])
    cards = [{"id": -(i + 1), "card_id": None, "action_id": aid, "row": i, "col": 0, "size_x": 4, "size_y": 1,
              "visualization_settings": {}} for i, aid in enumerate(ids)]
    resp = admin.put(f"/api/dashboard/{dash['id']}", json={"dashcards": cards, "tabs": []})
    assert resp.status_code == 200, resp.text

    def buttons():
        return sorted(dc["action_id"] for dc in admin.get(f"/api/dashboard/{dash['id']}").json()["dashcards"])

    assert buttons() == ids
    assert admin.put(f"/api/action/{ids[0]}", json={"archived": True}).status_code == 200
    assert buttons() == [ids[1]]
    assert admin.delete(f"/api/action/{ids[1]}").status_code == 204
    assert buttons() == []
