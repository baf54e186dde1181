"""Collections behave like Metabase's (conformance items 20-23, api-surface §3 and §22)."""

import pytest

from mbport.emulator.models import collections
from mbport.emulator.shapes import collections as collection_shapes
from tests.conftest import make_client

QUERY = {"database": 1, "type": "native", "native": {"query": "select 1", "template-tags": {}}}
RECORDED_LIST_KEYS = {"authority_level", "description", "archived", "slug", "archive_operation_id", "can_write",
                      "name", "is_remote_synced", "personal_owner_id", "type", "is_sample", "id",
                      "archived_directly", "entity_id", "location", "namespace", "is_personal", "created_at",
                      "can_delete"}
RECORDED_ROOT_KEYS = {"authority_level", "can_write", "name", "is_remote_synced", "effective_ancestors",
                      "can_restore", "effective_location", "parent_id", "id", "is_personal", "can_delete"}
RECORDED_CARD_ITEM_KEYS = {"archived", "can_delete", "can_restore", "can_write", "collection_id", "collection_position",
                           "collection_preview", "dashboard", "dashboard_count", "dashboard_id", "database_id",
                           "description", "display", "entity_id", "fully_parameterized", "id", "is_remote_synced",
                           "last-edit-info", "last_used_at", "location", "model", "moderated_status", "name"}


def new_collection(client, name, **body):
    resp = client.post("/api/collection", json={"name": name, **body})
    assert resp.status_code == 200, resp.text
    return resp.json()


def new_card(client, name, collection_id=None, **body):
    payload = {"name": name, "display": "table", "dataset_query": QUERY, "visualization_settings": {}, **body}
    if collection_id is not None:
        payload["collection_id"] = collection_id
    resp = client.post("/api/card", json=payload)
    assert resp.status_code == 200, resp.text
    return resp.json()


def new_user_client(admin, emulator, email, first="Rita", last="Ross"):
    password = "Us3r-passw0rd!"
    created = admin.post("/api/user", json={"email": email, "first_name": first, "last_name": last,
                                            "password": password})
    assert created.status_code == 200, created.text
    client = make_client(emulator)
    session = client.post("/api/session", json={"username": email, "password": password}).json()["id"]
    return make_client(emulator, **{"X-Metabase-Session": session}), created.json()


# ---------------------------------------------------------------- GET /api/collection

def test_list_starts_with_root_and_hides_trash(admin):
    new_collection(admin, "Sales")
    listed = admin.get("/api/collection").json()
    assert isinstance(listed, list)
    assert listed[0]["id"] == "root" and listed[0]["name"] == "Our analytics"
    assert set(listed[0]) == RECORDED_ROOT_KEYS
    assert all(c.get("type") != "trash" for c in listed)
    sales = next(c for c in listed if c["name"] == "Sales")
    assert RECORDED_LIST_KEYS <= set(sales)
    assert sales["can_write"] is True and sales["is_personal"] is False and sales["location"] == "/"


def test_admin_sees_other_users_personal_collections(admin, emulator):
    _, rita = new_user_client(admin, emulator, "rita@example.com")
    names = [c["name"] for c in admin.get("/api/collection").json()]
    assert "Rita Ross's Personal Collection" in names
    assert "Admin User's Personal Collection" in names
    own_only = admin.get("/api/collection", params={"exclude-other-user-collections": "true"}).json()
    assert "Rita Ross's Personal Collection" not in [c["name"] for c in own_only]
    personal = admin.get("/api/collection", params={"personal-only": "true"}).json()
    assert personal[0]["id"] != "root" and all(c["personal_owner_id"] for c in personal)
    ritas = next(c for c in personal if c["personal_owner_id"] == rita["id"])
    assert ritas["is_personal"] is True and ritas["slug"] == "rita_ross_s_personal_collection"


def test_non_admin_does_not_see_other_personal_collections(admin, emulator):
    rita, _ = new_user_client(admin, emulator, "rita@example.com")
    names = [c["name"] for c in rita.get("/api/collection").json()]
    assert "Rita Ross's Personal Collection" in names
    assert "Admin User's Personal Collection" not in names
    admins = next(c for c in admin.get("/api/collection").json() if c["name"].startswith("Admin User"))
    assert rita.get(f"/api/collection/{admins['id']}").status_code == 403


def test_archived_list_shows_trash_and_archived_only(admin):
    doomed = new_collection(admin, "Doomed")
    new_collection(admin, "Alive")
    admin.put(f"/api/collection/{doomed['id']}", json={"archived": True})
    archived = admin.get("/api/collection", params={"archived": "true"}).json()
    assert [c.get("type") for c in archived if c["name"] == "Trash"] == ["trash"]
    assert {c["name"] for c in archived} == {"Trash", "Doomed"}
    assert "root" not in [c["id"] for c in archived]
    assert "Doomed" not in [c["name"] for c in admin.get("/api/collection").json()]


def test_namespace_filter(admin):
    new_collection(admin, "Folder", namespace="snippets")
    new_collection(admin, "Plain")
    default = [c["name"] for c in admin.get("/api/collection").json()]
    assert "Plain" in default and "Folder" not in default
    snippets = admin.get("/api/collection", params={"namespace": "snippets"}).json()
    assert [c["name"] for c in snippets] == ["Our analytics", "Folder"]
    assert snippets[1]["namespace"] == "snippets"


# ---------------------------------------------------------------- POST / GET one

def test_location_is_the_ancestor_path(admin):
    a = new_collection(admin, "A")
    b = new_collection(admin, "B", parent_id=a["id"])
    c = new_collection(admin, "C", parent_id=b["id"])
    assert a["location"] == "/"
    assert b["location"] == f"/{a['id']}/"
    assert c["location"] == f"/{a['id']}/{b['id']}/"
    assert len(c["entity_id"]) == 21 and c["personal_owner_id"] is None and c["archived"] is False
    detail = admin.get(f"/api/collection/{c['id']}").json()
    assert detail["parent_id"] == b["id"]
    assert detail["effective_location"] == c["location"]
    assert [x["id"] for x in detail["effective_ancestors"]] == ["root", a["id"], b["id"]]
    assert detail["effective_ancestors"][1]["name"] == "A" and detail["can_write"] is True


def test_get_by_entity_id_and_missing(admin):
    coll = new_collection(admin, "Eid", description="About it")
    by_eid = admin.get(f"/api/collection/{coll['entity_id']}")
    assert by_eid.status_code == 200 and by_eid.json()["id"] == coll["id"]
    assert by_eid.json()["description"] == "About it"
    missing = admin.get("/api/collection/9999")
    assert missing.status_code == 404 and missing.text == "Not found."


@pytest.mark.allow_invalid_requests
def test_blank_description_and_name_are_rejected(admin):
    empty = admin.post("/api/collection", json={"name": "X", "description": ""})
    assert empty.status_code == 400 and "description" in empty.json()["errors"]
    blank = admin.post("/api/collection", json={"name": "X", "description": "   "})
    assert blank.status_code == 400 and "description" in blank.json()["errors"]
    nameless = admin.post("/api/collection", json={"description": "x"})
    assert nameless.status_code == 400 and "name" in nameless.json()["errors"]
    assert admin.post("/api/collection", json={"name": "X", "description": None}).status_code == 200


def test_snippet_folder_namespace_is_inherited(admin):
    folder = new_collection(admin, "Snips", namespace="snippets")
    child = new_collection(admin, "Sub", parent_id=folder["id"])
    assert child["namespace"] == "snippets"
    mismatch = admin.post("/api/collection", json={"name": "Bad", "parent_id": folder["id"], "namespace": "x"})
    assert mismatch.status_code == 400


def test_cannot_create_in_trash_and_official_needs_premium(admin):
    trash = admin.get("/api/collection/trash").json()
    # collections/api.clj `write-check-collection-or-root-collection`: a plain 400, not a 403
    made = admin.post("/api/collection", json={"name": "T", "parent_id": trash["id"]})
    assert (made.status_code, made.text) == (400, "You cannot modify the Trash Collection.")
    official = admin.post("/api/collection", json={"name": "O", "authority_level": "official"})
    assert official.status_code == 402
    assert official.json()["status"] == "error-premium-feature-not-available"


def test_root_and_trash_endpoints(admin):
    root = admin.get("/api/collection/root").json()
    assert root["id"] == "root" and root["name"] == "Our analytics" and root["can_write"] is True
    assert admin.get("/api/collection/root", params={"namespace": "snippets"}).json()["namespace"] == "snippets"
    trash = admin.get("/api/collection/trash").json()
    assert trash["type"] == "trash" and trash["name"] == "Trash" and trash["can_write"] is False
    assert admin.get(f"/api/collection/{trash['id']}").json()["type"] == "trash"
    renamed = admin.put(f"/api/collection/{trash['id']}", json={"name": "Bin"})  # `define-before-update`
    assert (renamed.status_code, renamed.text) == (400, "You cannot modify the Trash Collection.")


def test_create_calls_the_collection_graph(admin):
    coll = new_collection(admin, "Graphed")
    graph = admin.get("/api/collection/graph").json()
    all_users = next(g["id"] for g in admin.get("/api/permissions/group").json() if g["name"] == "All Users")
    assert graph["groups"][str(all_users)].get(str(coll["id"])) == "write"


# ---------------------------------------------------------------- PUT: rename, move, archive

def test_rename_and_move_rewrites_descendants(admin):
    a = new_collection(admin, "A")
    b = new_collection(admin, "B", parent_id=a["id"])
    c = new_collection(admin, "C", parent_id=b["id"])
    d = new_collection(admin, "D")
    moved = admin.put(f"/api/collection/{b['id']}", json={"parent_id": d["id"], "name": "B2"})
    assert moved.status_code == 200
    assert moved.json()["location"] == f"/{d['id']}/" and moved.json()["name"] == "B2"
    assert moved.json()["slug"] == "b2"
    assert admin.get(f"/api/collection/{c['id']}").json()["location"] == f"/{d['id']}/{b['id']}/"
    to_root = admin.put(f"/api/collection/{b['id']}", json={"parent_id": None}).json()
    assert to_root["location"] == "/"
    assert admin.get(f"/api/collection/{c['id']}").json()["location"] == f"/{b['id']}/"


def test_cannot_move_into_own_descendant_or_trash(admin):
    a = new_collection(admin, "A")
    b = new_collection(admin, "B", parent_id=a["id"])
    assert admin.put(f"/api/collection/{a['id']}", json={"parent_id": b["id"]}).status_code == 400
    trash = admin.get("/api/collection/trash").json()
    moved = admin.put(f"/api/collection/{a['id']}", json={"parent_id": trash["id"]})
    assert (moved.status_code, moved.text) == (400, "You cannot modify the Trash Collection.")


def test_archiving_archives_contents_and_omitted_archived_unarchives(admin):
    top = new_collection(admin, "Top")
    sub = new_collection(admin, "Sub", parent_id=top["id"])
    card = new_card(admin, "In sub", sub["id"])
    dash = admin.post("/api/dashboard", json={"name": "Dash", "collection_id": top["id"]}).json()
    archived = admin.put(f"/api/collection/{top['id']}", json={"archived": True}).json()
    assert archived["archived"] is True and archived["archived_directly"] is True
    assert archived["effective_location"] == f"/{admin.get('/api/collection/trash').json()['id']}/"
    assert archived["location"] == "/", "archiving keeps the location; the Trash is not a real parent"
    sub_now = admin.get(f"/api/collection/{sub['id']}").json()
    assert sub_now["archived"] is True and sub_now["archived_directly"] is False
    assert card["id"] in [c["id"] for c in admin.get("/api/card", params={"f": "archived"}).json()]
    assert card["id"] not in [c["id"] for c in admin.get("/api/card").json()]
    assert admin.get(f"/api/dashboard/{dash['id']}").json()["archived"] is True
    in_card = admin.get(f"/api/card/{card['id']}").json()
    assert in_card["archived"] is True and in_card["collection_id"] == sub["id"]
    # A PUT that omits `archived` un-archives (the default false is applied).
    restored = admin.put(f"/api/collection/{top['id']}", json={"name": "Top again"}).json()
    assert restored["archived"] is False and restored["name"] == "Top again"
    assert admin.get(f"/api/collection/{sub['id']}").json()["archived"] is False
    assert card["id"] in [c["id"] for c in admin.get("/api/card").json()]
    assert admin.get(f"/api/dashboard/{dash['id']}").json()["archived"] is False


def test_unarchive_keeps_separately_trashed_children_and_restores_elsewhere(admin):
    top = new_collection(admin, "Top")
    sub = new_collection(admin, "Sub", parent_id=top["id"])
    other = new_collection(admin, "Other")
    admin.put(f"/api/collection/{sub['id']}", json={"archived": True})
    admin.put(f"/api/collection/{top['id']}", json={"archived": True})
    admin.put(f"/api/collection/{top['id']}", json={"archived": False})
    assert admin.get(f"/api/collection/{sub['id']}").json()["archived"] is True
    restored = admin.put(f"/api/collection/{sub['id']}", json={"archived": False, "parent_id": other["id"]}).json()
    assert restored["archived"] is False and restored["location"] == f"/{other['id']}/"


def test_trash_items_list_directly_archived_things(admin):
    coll = new_collection(admin, "Gone")
    card = new_card(admin, "Gone card")
    inner = new_card(admin, "Inner", coll["id"])
    admin.put(f"/api/collection/{coll['id']}", json={"archived": True})
    admin.put(f"/api/card/{card['id']}", json={"archived": True})
    trash = admin.get("/api/collection/trash").json()
    listed = admin.get(f"/api/collection/{trash['id']}/items").json()
    ids = {(i["model"], i["id"]) for i in listed["data"]}
    assert ("collection", coll["id"]) in ids and ("card", card["id"]) in ids
    assert ("card", inner["id"]) not in ids, "indirectly archived items stay inside their collection"
    assert all(i["collection_id"] == trash["id"] for i in listed["data"])
    gone = admin.get(f"/api/collection/{coll['id']}/items").json()
    assert [i["id"] for i in gone["data"]] == [inner["id"]] and gone["data"][0]["archived"] is True


# ---------------------------------------------------------------- DELETE

def test_delete_requires_trash_and_admin(admin, emulator):
    coll = new_collection(admin, "Delete me")
    child = new_collection(admin, "Child", parent_id=coll["id"])
    card = new_card(admin, "Inside", child["id"])
    not_trashed = admin.delete(f"/api/collection/{coll['id']}")
    assert not_trashed.status_code == 400 and not_trashed.text == "Collection must be trashed before deletion."
    admin.put(f"/api/collection/{coll['id']}", json={"archived": True})
    rita, _ = new_user_client(admin, emulator, "rita@example.com")
    assert rita.delete(f"/api/collection/{coll['id']}").status_code == 403
    assert admin.delete(f"/api/collection/{coll['id']}").status_code == 200
    assert admin.get(f"/api/collection/{coll['id']}").status_code == 404
    assert admin.get(f"/api/collection/{child['id']}").status_code == 404
    assert admin.get(f"/api/card/{card['id']}").status_code == 404


def test_delete_moves_out_children_trashed_on_their_own(admin):
    coll = new_collection(admin, "Parent")
    child = new_collection(admin, "Own trash", parent_id=coll["id"])
    admin.put(f"/api/collection/{child['id']}", json={"archived": True})
    admin.put(f"/api/collection/{coll['id']}", json={"archived": True})
    assert admin.delete(f"/api/collection/{coll['id']}").status_code == 200
    survivor = admin.get(f"/api/collection/{child['id']}").json()
    assert survivor["location"] == "/" and survivor["archived"] is True


def test_snippet_folders_cannot_be_deleted(admin):
    folder = new_collection(admin, "Snips", namespace="snippets")
    admin.put(f"/api/collection/{folder['id']}", json={"archived": True})
    resp = admin.delete(f"/api/collection/{folder['id']}")
    assert resp.status_code == 400 and "namespace" in resp.text


# ---------------------------------------------------------------- tree

def test_tree_nests_children_with_here_and_below(admin):
    a = new_collection(admin, "A")
    b = new_collection(admin, "B", parent_id=a["id"])
    new_card(admin, "Q", b["id"])
    new_card(admin, "M", b["id"], type="model")
    tree = admin.get("/api/collection/tree").json()
    node_a = next(n for n in tree if n["id"] == a["id"])
    assert node_a["below"] == ["card", "dataset"] and "here" not in node_a
    node_b = node_a["children"][0]
    assert node_b["id"] == b["id"] and node_b["here"] == ["card", "dataset"] and node_b["children"] == []
    assert any(n.get("type") == "trash" for n in tree)
    assert all(n.get("type") != "trash" for n in admin.get("/api/collection/tree",
                                                           params={"exclude-archived": "true"}).json())


def test_tree_shallow_and_namespace(admin):
    a = new_collection(admin, "A")
    b = new_collection(admin, "B", parent_id=a["id"])
    new_collection(admin, "C", parent_id=b["id"])
    new_collection(admin, "Snips", namespace="snippets")
    shallow = admin.get("/api/collection/tree", params={"shallow": "true"}).json()
    node_a = next(n for n in shallow if n["id"] == a["id"])
    assert node_a["children"] is True
    under_a = admin.get("/api/collection/tree", params={"shallow": "true", "collection-id": a["id"]}).json()
    assert [(n["id"], n["children"]) for n in under_a] == [(b["id"], True)]
    assert "Snips" not in [n["name"] for n in admin.get("/api/collection/tree").json()]
    snippets = admin.get("/api/collection/tree", params={"namespace": "snippets"}).json()
    assert [n["name"] for n in snippets] == ["Snips"]


# ---------------------------------------------------------------- items

def test_items_envelope_models_and_paging(admin):
    coll = new_collection(admin, "Box")
    new_collection(admin, "Inner box", parent_id=coll["id"])
    for name in ("Beta", "alpha", "Gamma"):
        new_card(admin, name, coll["id"])
    new_card(admin, "A model", coll["id"], type="model")
    new_card(admin, "A metric", coll["id"], type="metric")
    items = admin.get(f"/api/collection/{coll['id']}/items").json()
    assert set(items) == {"total", "data", "models", "limit", "offset"}
    assert items["total"] == 6 and items["limit"] is None and items["offset"] is None
    assert [i["name"] for i in items["data"]] == ["A metric", "A model", "alpha", "Beta", "Gamma", "Inner box"]
    assert {i["model"] for i in items["data"]} == {"card", "dataset", "metric", "collection"}
    card_item = next(i for i in items["data"] if i["name"] == "alpha")
    assert set(card_item) == RECORDED_CARD_ITEM_KEYS
    assert "dataset_query" not in card_item and card_item["collection_id"] == coll["id"]
    paged = admin.get(f"/api/collection/{coll['id']}/items", params={"limit": 2, "offset": 1}).json()
    assert paged["total"] == 6 and paged["limit"] == 2 and paged["offset"] == 1
    assert [i["name"] for i in paged["data"]] == ["A model", "alpha"]
    only = admin.get(f"/api/collection/{coll['id']}/items", params={"models": ["dataset", "metric"]}).json()
    assert {i["model"] for i in only["data"]} == {"dataset", "metric"} and only["models"] == ["dataset", "metric"]
    by_model = admin.get(f"/api/collection/{coll['id']}/items",
                         params={"sort_column": "model", "sort_direction": "desc"}).json()
    assert by_model["data"][0]["model"] == "collection"


def test_items_by_entity_id_pinned_and_archived(admin):
    coll = new_collection(admin, "Pins")
    pinned = new_card(admin, "Pinned", coll["id"], collection_position=1)
    loose = new_card(admin, "Loose", coll["id"])
    admin.put(f"/api/card/{loose['id']}", json={"archived": True})
    items = admin.get(f"/api/collection/{coll['entity_id']}/items").json()
    assert [i["id"] for i in items["data"]] == [pinned["id"]]
    assert admin.get(f"/api/collection/{coll['id']}/items",
                     params={"pinned_state": "is_not_pinned"}).json()["data"] == []
    archived = admin.get(f"/api/collection/{coll['id']}/items", params={"archived": "true"}).json()
    assert archived["data"] == [], "directly trashed cards are listed in the Trash, not their collection"


def test_dashboard_questions_hidden_unless_asked(admin):
    coll = new_collection(admin, "Dashy")
    dash = admin.post("/api/dashboard", json={"name": "D", "collection_id": coll["id"]}).json()
    inner = new_card(admin, "Inside dashboard", dashboard_id=dash["id"])
    assert inner["collection_id"] == coll["id"]
    default = admin.get(f"/api/collection/{coll['id']}/items").json()
    assert inner["id"] not in [i["id"] for i in default["data"] if i["model"] == "card"]
    dash_item = next(i for i in default["data"] if i["model"] == "dashboard")
    assert dash_item["id"] == dash["id"] and dash_item["location"] == f"/{coll['id']}/"
    shown = admin.get(f"/api/collection/{coll['id']}/items", params={"show_dashboard_questions": "true"}).json()
    assert inner["id"] in [i["id"] for i in shown["data"] if i["model"] == "card"]


def test_root_items_exclude_personal_collections(admin):
    new_collection(admin, "Top level")
    new_card(admin, "Root card")
    root = admin.get("/api/collection/root/items").json()
    names = [i["name"] for i in root["data"]]
    assert "Top level" in names and "Root card" in names
    assert not any("Personal Collection" in n for n in names)
    assert all(i["collection_id"] is None for i in root["data"])
    assert set(root) == {"total", "data", "models", "limit", "offset"}


def test_snippets_namespace_items_are_never_paged(admin):
    folder = new_collection(admin, "Snips", namespace="snippets")
    for name in ("one", "two", "three"):
        assert admin.post("/api/native-query-snippet", json={"name": name, "content": "1"}).status_code == 200
    root = admin.get("/api/collection/root/items", params={"namespace": "snippets", "limit": 1}).json()
    assert set(root) == {"total", "data", "models"}
    assert root["total"] == 4 and len(root["data"]) == 4
    assert {i["model"] for i in root["data"]} == {"snippet", "collection"}
    assert root["models"] == ["collection", "snippet"]
    inside = admin.get(f"/api/collection/{folder['id']}/items").json()
    assert set(inside) == {"total", "data", "models"}


# ---------------------------------------------------------------- helpers for other areas

def test_personal_collection_and_summary_helpers(admin, emulator):
    state = emulator.state
    user = state.table("user").get(1)
    personal = collections.create_personal_collection(state, user)
    assert collections.create_personal_collection(state, user)["id"] == personal["id"]
    assert personal["name"] == "Admin User's Personal Collection" and personal["location"] == "/"
    assert personal["personal_owner_id"] == 1
    root = collection_shapes.collection_summary(state, None)
    assert root["id"] == "root" and root[collections.IS_ROOT_KEY] is True
    coll = new_collection(admin, "Summed")
    summary = collection_shapes.collection_summary(state, coll["id"])
    assert summary["name"] == "Summed" and summary["is_personal"] is False
    assert collections.slugify("Коллекция") == "%D0%BA%D0%BE%D0%BB%D0%BB%D0%B5%D0%BA%D1%86%D0%B8%D1%8F"


def test_archiving_a_collection_keeps_dashboard_question_dashcards(admin):
    coll = new_collection(admin, "With dashboard")
    dash = admin.post("/api/dashboard", json={"name": "D", "collection_id": coll["id"]}).json()
    question = new_card(admin, "DQ", dashboard_id=dash["id"])
    admin.put(f"/api/collection/{coll['id']}", json={"archived": True})
    archived = admin.get(f"/api/card/{question['id']}").json()
    assert archived["archived"] is True and archived["archived_directly"] is False
    assert archived["collection_id"] == coll["id"], "only directly trashed cards are presented in the Trash"
    admin.put(f"/api/collection/{coll['id']}", json={"archived": False})
    assert admin.get(f"/api/card/{question['id']}").json()["dashboard_count"] == 1


def test_deleting_a_collection_takes_its_dashboards_dashcards_along(admin, emulator):
    """report_dashboardcard.dashboard_id is ON DELETE CASCADE in Metabase: a card kept elsewhere is on no dashboard
    once the collection holding its only dashboard is deleted for good."""
    coll = admin.post("/api/collection", json={"name": "Doomed"}).json()
    card = admin.post("/api/card", json={
        "name": "Kept", "display": "table", "visualization_settings": {},
        "dataset_query": {"database": 1, "type": "native", "native": {"query": "select 1"}}}).json()
    dash = admin.post("/api/dashboard", json={"name": "Gone", "collection_id": coll["id"]}).json()
    admin.put(f"/api/dashboard/{dash['id']}", json={"tabs": [{"id": -1, "name": "T"}], "dashcards": [
        {"id": -1, "card_id": card["id"], "dashboard_tab_id": -1, "row": 0, "col": 0, "size_x": 4, "size_y": 4}]})
    assert admin.get(f"/api/card/{card['id']}").json()["dashboard_count"] == 1
    assert admin.put(f"/api/collection/{coll['id']}", json={"archived": True}).status_code == 200
    assert admin.delete(f"/api/collection/{coll['id']}").status_code == 200
    assert admin.get(f"/api/card/{card['id']}").json()["dashboard_count"] == 0
    assert not emulator.state.table("dashboard_tab").where(dashboard_id=dash["id"])


def test_deleting_a_collection_takes_its_timelines_and_pulses_along(admin, emulator):
    """collection.clj `define-before-delete`: Card, Dashboard, NativeQuerySnippet, Pulse and Timeline rows of the
    collection and its descendants are deleted (timeline events and pulse channels by the database's cascades);
    those of a collection kept elsewhere stay."""
    doomed = new_collection(admin, "Doomed")
    inner = new_collection(admin, "Inner", parent_id=doomed["id"])
    kept = new_collection(admin, "Kept")
    timelines = {c["id"]: admin.post("/api/timeline", json={"name": f"T{c['id']}", "collection_id": c["id"]}).json()
                 for c in (inner, kept)}
    for t in timelines.values():
        admin.post("/api/timeline-event", json={"name": "E", "timeline_id": t["id"], "timestamp": "2024-01-01",
                                                "timezone": "UTC", "time_matters": False})
    card = admin.post("/api/card", json={
        "name": "Q", "display": "table", "visualization_settings": {}, "collection_id": kept["id"],
        "dataset_query": {"database": 1, "type": "native", "native": {"query": "select 1"}}}).json()
    cards = [{"id": card["id"], "include_csv": False, "include_xls": False, "dashboard_card_id": None}]
    pulses = {c["id"]: admin.post("/api/pulse", json={
        "name": f"P{c['id']}", "collection_id": c["id"], "cards": cards, "channels": [{
            "channel_type": "email", "enabled": True, "schedule_type": "daily", "schedule_hour": 8,
            "recipients": [{"email": "x@example.com"}]}]}).json() for c in (inner, kept)}
    assert all("id" in p for p in pulses.values()), pulses
    admin.put(f"/api/collection/{doomed['id']}", json={"archived": True})
    assert admin.delete(f"/api/collection/{doomed['id']}").status_code == 200
    gone, stays = inner["id"], kept["id"]
    assert admin.get(f"/api/timeline/{timelines[gone]['id']}").status_code == 404
    assert admin.get(f"/api/pulse/{pulses[gone]['id']}").status_code == 404
    assert not emulator.state.table("timeline_event").where(timeline_id=timelines[gone]["id"])
    assert not emulator.state.table("pulse_channel").where(pulse_id=pulses[gone]["id"])
    assert admin.get(f"/api/timeline/{timelines[stays]['id']}", params={"include": "events"}).json()["events"]
    assert admin.get(f"/api/pulse/{pulses[stays]['id']}").status_code == 200
