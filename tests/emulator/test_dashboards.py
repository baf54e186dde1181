"""/api/dashboard behaves like Metabase's (api-surface.md §5, §4 dashboard questions, §22; conformance 29-33)."""

import pytest

from mbport.emulator.models import dashboards
from mbport.emulator.profiles import with_overrides

# Top-level keys of a real GET /api/dashboard/:id (recorded/mbql5/dashboard/2.json).
RECORDED_DASHBOARD_KEYS = {
    "description", "archived", "view_count", "collection_position", "dashcards", "dependency_analysis_version",
    "initially_published_at", "can_write", "tabs", "enable_embedding", "collection_id", "show_in_getting_started",
    "name", "is_remote_synced", "width", "caveats", "collection_authority_level", "creator_id", "can_restore",
    "moderation_reviews", "updated_at", "made_public_by_id", "embedding_params", "cache_ttl",
    "last_used_param_values", "id", "last_viewed_at", "position", "archived_directly", "entity_id", "param_fields",
    "last-edit-info", "collection", "parameters", "auto_apply_filters", "created_at", "public_uuid",
    "points_of_interest", "can_delete",
}
RECORDED_DASHCARD_KEYS = {
    "size_x", "dashboard_tab_id", "series", "inline_parameters", "action_id", "collection_authority_level", "card",
    "updated_at", "col", "id", "parameter_mappings", "card_id", "entity_id", "visualization_settings", "size_y",
    "dashboard_id", "created_at", "row",
}


@pytest.fixture(autouse=True)
def sample_database(admin):
    """Cards need a real database to query: the bundled sample (id 1 on a fresh instance)."""
    resp = admin.post("/api/database/sample_database")
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def native_query(database_id=1):
    return {"type": "native", "native": {"query": "select 1"}, "database": database_id}


# ---- helpers: cards and collections come from their own areas' APIs ----

def make_card(emulator, admin, name="Question", display="table", **fields):
    """A card through POST /api/card; returns the stored row (dashboard questions get autoplaced there)."""
    body = {"name": name, "display": display, "dataset_query": native_query(), "visualization_settings": {}, **fields}
    resp = admin.post("/api/card", json=body)
    assert resp.status_code == 200, resp.text
    return emulator.state.table("card").get(resp.json()["id"])


def archive_card(admin, card_id):
    assert admin.put(f"/api/card/{card_id}", json={"archived": True}).status_code == 200


def make_collection(admin, name="Reports"):
    resp = admin.post("/api/collection", json={"name": name})
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def new_dashboard(admin, name="Sales", **fields):
    resp = admin.post("/api/dashboard", json={"name": name, **fields})
    assert resp.status_code == 200, resp.text
    return resp.json()


def dashcard(id_, card_id=None, row=0, col=0, size_x=4, size_y=4, **more):
    return {"id": id_, "card_id": card_id, "row": row, "col": col, "size_x": size_x, "size_y": size_y, **more}


def put(admin, dash_id, **body):
    return admin.put(f"/api/dashboard/{dash_id}", json=body)


def get(admin, dash_id):
    resp = admin.get(f"/api/dashboard/{dash_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


# ---- create, read, list, delete ----

def test_create_then_get_has_the_recorded_shape(admin):
    created = new_dashboard(admin, description="d", parameters=[{"id": "p1", "type": "category", "name": "Cat"}])
    assert created["dashcards"] == [] and created["tabs"] == []
    assert created["collection"]["id"] == "root" and created["collection_id"] is None
    assert created["last-edit-info"]["email"] == "admin@example.com"
    fetched = get(admin, created["id"])
    assert RECORDED_DASHBOARD_KEYS <= set(fetched)
    assert fetched["parameters"] == [{"id": "p1", "type": "category", "name": "Cat"}]
    assert fetched["width"] == "fixed" and fetched["auto_apply_filters"] is True and fetched["archived"] is False
    assert fetched["param_fields"] == {} and fetched["last_used_param_values"] == {}
    assert fetched["collection"]["metabase.collections.models.collection.root/is-root?"] is True
    assert len(fetched["entity_id"]) == 21


def test_keys_that_arrived_with_0_57_are_absent_on_the_0_56_profile():
    from mbport.emulator import Emulator, bootstrap
    from tests.conftest import make_client

    old = Emulator("0.56")
    client = make_client(old, **{"X-Metabase-Session": bootstrap.setup_admin(old, "a@example.com", "Passw0rd-x1")})
    dash = new_dashboard(client)
    fetched = get(client, dash["id"])
    assert "is_remote_synced" not in fetched and "dependency_analysis_version" not in fetched
    assert "dependency_analysis_version" not in client.get("/api/dashboard").json()[0]


def test_get_by_entity_id_and_unknown_is_plain_404(admin):
    dash = new_dashboard(admin)
    assert get(admin, dash["entity_id"])["id"] == dash["id"]
    missing = admin.get("/api/dashboard/999")
    assert missing.status_code == 404 and missing.text == "Not found."


def test_list_is_a_plain_array_filtered_by_f(emulator, admin):
    b = new_dashboard(admin, "beta")
    a = new_dashboard(admin, "Alpha")
    gone = new_dashboard(admin, "gone")
    assert put(admin, gone["id"], archived=True).status_code == 200
    listed = admin.get("/api/dashboard").json()
    assert [d["id"] for d in listed] == [a["id"], b["id"]]
    assert "dashcards" not in listed[0] and "tabs" not in listed[0]
    assert listed[0]["creator"]["email"] == "admin@example.com" and "last-edit-info" in listed[0]
    assert [d["id"] for d in admin.get("/api/dashboard", params={"f": "archived"}).json()] == [gone["id"]]
    assert len(admin.get("/api/dashboard", params={"f": "mine"}).json()) == 2


def test_delete_is_hard_and_takes_dashboard_questions_along(emulator, admin):
    dash = new_dashboard(admin)
    question = make_card(emulator, admin, dashboard_id=dash["id"])
    resp = admin.delete(f"/api/dashboard/{dash['id']}")
    assert resp.status_code == 204 and resp.content == b""
    assert admin.get(f"/api/dashboard/{dash['id']}").status_code == 404
    assert emulator.state.table("card").get(question["id"]) is None
    assert not emulator.state.table("dashboardcard").where(dashboard_id=dash["id"])


# ---- PUT: plain fields ----

def test_plain_update_leaves_dashcards_alone_and_tabs_alone_are_ignored(emulator, admin):
    card = make_card(emulator, admin)
    dash = new_dashboard(admin)
    put(admin, dash["id"], dashcards=[dashcard(-1, card["id"])], tabs=[])
    resp = put(admin, dash["id"], name="Renamed", description=None, width="full",
               tabs=[{"id": -1, "name": "Ignored"}])
    assert resp.status_code == 200
    body = resp.json()
    assert body["name"] == "Renamed" and body["description"] is None and body["width"] == "full"
    # The PUT response skips the root-collection hydration that GET and POST do.
    assert body["collection"] is None and get(admin, dash["id"])["collection"]["id"] == "root"
    assert body["tabs"] == [] and len(body["dashcards"]) == 1
    # null for a non-nil-only key is ignored
    assert put(admin, dash["id"], name=None).json()["name"] == "Renamed"


def test_duplicate_dashcard_ids_are_a_400(admin):
    dash = new_dashboard(admin)
    resp = put(admin, dash["id"], dashcards=[dashcard(-1), dashcard(-1)], tabs=[])
    assert resp.status_code == 400 and "dashcards" in resp.json()["errors"]


# ---- PUT: the dashcard and tab diff ----

def test_negative_ids_create_missing_ids_delete_and_response_has_real_ids(emulator, admin):
    c1, c2 = make_card(emulator, admin, "one"), make_card(emulator, admin, "two")
    dash = new_dashboard(admin)
    resp = put(admin, dash["id"], dashcards=[dashcard(-1, c1["id"]), dashcard(-2, c2["id"], col=4)], tabs=[])
    assert resp.status_code == 200
    cards = resp.json()["dashcards"]
    assert [dc["card_id"] for dc in cards] == [c1["id"], c2["id"]]
    assert all(dc["id"] > 0 and len(dc["entity_id"]) == 21 for dc in cards)
    assert RECORDED_DASHCARD_KEYS <= set(cards[0])
    assert cards[0]["card"]["id"] == c1["id"] and cards[0]["card"]["name"] == "one"
    assert cards[0]["parameter_mappings"] == [] and cards[0]["visualization_settings"] == {}

    keep = {**cards[1], "row": 3}
    second = put(admin, dash["id"], dashcards=[keep], tabs=[]).json()["dashcards"]
    assert [(dc["id"], dc["row"]) for dc in second] == [(cards[1]["id"], 3)]
    assert get(admin, dash["id"])["dashcards"][0]["card"]["query_average_duration"] is None


def test_temporary_tab_ids_in_dashcards_become_real_ids(emulator, admin):
    card = make_card(emulator, admin)
    dash = new_dashboard(admin)
    body = put(admin, dash["id"], tabs=[{"id": -1, "name": "First"}, {"id": -2, "name": "Second"}],
               dashcards=[dashcard(-1, card["id"], dashboard_tab_id=-2)]).json()
    tabs = body["tabs"]
    assert [(t["name"], t["position"]) for t in tabs] == [("First", 0), ("Second", 1)]
    assert all(t["id"] > 0 and len(t["entity_id"]) == 21 and t["dashboard_id"] == dash["id"] for t in tabs)
    assert body["dashcards"][0]["dashboard_tab_id"] == tabs[1]["id"]
    # Reordering and renaming keeps ids.
    again = put(admin, dash["id"], tabs=[{"id": tabs[1]["id"], "name": "Now first"}, {"id": tabs[0]["id"], "name": "First"}],
                dashcards=body["dashcards"]).json()["tabs"]
    assert [(t["id"], t["name"], t["position"]) for t in again] == [
        (tabs[1]["id"], "Now first", 0), (tabs[0]["id"], "First", 1)]


def test_a_dashcard_without_tab_is_a_plain_400_when_tabs_are_sent(emulator, admin):
    card = make_card(emulator, admin)
    dash = new_dashboard(admin, "Before")
    tabs = [{"id": -1, "name": "T1"}, {"id": -2, "name": "T2"}]
    resp = put(admin, dash["id"], name="After", tabs=tabs, dashcards=[dashcard(-1, card["id"])])
    assert resp.status_code == 400
    assert resp.text == "This dashboard has tab, makes sure every card has a tab"
    # The whole request is rolled back, plain fields included.
    after = get(admin, dash["id"])
    assert after["name"] == "Before" and after["tabs"] == [] and after["dashcards"] == []


def test_with_exactly_one_tab_dashcards_are_put_on_it(emulator, admin):
    card = make_card(emulator, admin)
    dash = new_dashboard(admin)
    body = put(admin, dash["id"], tabs=[{"id": -1, "name": "Only"}], dashcards=[dashcard(-1, card["id"])]).json()
    assert body["dashcards"][0]["dashboard_tab_id"] == body["tabs"][0]["id"]


def test_dashcards_without_tabs_delete_every_tab_and_the_dashcards_on_them(emulator, admin):
    c1, c2 = make_card(emulator, admin, "one"), make_card(emulator, admin, "two")
    dash = new_dashboard(admin)
    body = put(admin, dash["id"], tabs=[{"id": -1, "name": "A"}, {"id": -2, "name": "B"}],
               dashcards=[dashcard(-1, c1["id"], dashboard_tab_id=-1), dashcard(-2, c2["id"], dashboard_tab_id=-2)]).json()
    after = put(admin, dash["id"], dashcards=[dashcard(-3, c2["id"])]).json()
    assert after["tabs"] == []
    assert [(dc["card_id"], dc["dashboard_tab_id"]) for dc in after["dashcards"]] == [(c2["id"], None)]
    assert not {dc["id"] for dc in body["dashcards"]} & {dc["id"] for dc in after["dashcards"]}


def test_deleting_one_tab_drops_its_dashcards_only(emulator, admin):
    c1, c2 = make_card(emulator, admin, "one"), make_card(emulator, admin, "two")
    dash = new_dashboard(admin)
    body = put(admin, dash["id"], tabs=[{"id": -1, "name": "A"}, {"id": -2, "name": "B"}],
               dashcards=[dashcard(-1, c1["id"], dashboard_tab_id=-1), dashcard(-2, c2["id"], dashboard_tab_id=-2)]).json()
    keep_tab = body["tabs"][1]
    keep_card = body["dashcards"][1]
    after = put(admin, dash["id"], tabs=[keep_tab], dashcards=[keep_card]).json()
    assert [t["id"] for t in after["tabs"]] == [keep_tab["id"]]
    assert [dc["id"] for dc in after["dashcards"]] == [keep_card["id"]]


def test_new_dashcards_store_their_keys_and_existing_ones_update_only_the_listed_keys(emulator, admin):
    c1, c2 = make_card(emulator, admin, "one"), make_card(emulator, admin, "two")
    dash = new_dashboard(admin, parameters=[{"id": "p1", "type": "category"}])
    mapping = {"parameter_id": "p1", "card_id": c1["id"], "target": ["dimension", ["template-tag", "x"]]}
    new = dashcard(-1, c1["id"], visualization_settings={"card.title": "T"}, parameter_mappings=[mapping],
                   inline_parameters=["p1"], entity_id="x" * 21, created_at="2001-01-01T00:00:00Z")
    created = put(admin, dash["id"], dashcards=[new], tabs=[]).json()["dashcards"][0]
    assert created["visualization_settings"] == {"card.title": "T"}
    assert created["parameter_mappings"] == [mapping] and created["inline_parameters"] == ["p1"]
    assert created["entity_id"] != "x" * 21 and created["created_at"] != "2001-01-01T00:00:00Z"

    changed = {**created, "card_id": c2["id"], "size_x": 6, "inline_parameters": None,
               "entity_id": "y" * 21, "dashboard_id": 999}
    updated = put(admin, dash["id"], dashcards=[changed], tabs=[]).json()["dashcards"][0]
    assert (updated["card_id"], updated["size_x"], updated["inline_parameters"]) == (c2["id"], 6, None)
    assert updated["card"]["name"] == "two"
    assert updated["entity_id"] == created["entity_id"] and updated["dashboard_id"] == dash["id"]


def test_a_new_dashcard_carrying_a_hydrated_key_fails_like_the_insert_does(emulator, admin):
    dash = new_dashboard(admin)
    resp = put(admin, dash["id"], dashcards=[dashcard(-1, action={"id": 1})], tabs=[])
    assert resp.status_code == 500 and "action" in resp.json()["message"]
    assert get(admin, dash["id"])["dashcards"] == []


def test_series_is_written_as_ids_and_read_back_as_cards_in_order(emulator, admin):
    main, s1, s2 = (make_card(emulator, admin, n, display="line") for n in ("main", "s1", "s2"))
    dash = new_dashboard(admin)
    body = put(admin, dash["id"], dashcards=[dashcard(-1, main["id"], series=[{"id": s2["id"]}, {"id": s1["id"]}])],
               tabs=[]).json()
    series = body["dashcards"][0]["series"]
    assert [(s["id"], s["name"], s["display"]) for s in series] == [(s2["id"], "s2", "line"), (s1["id"], "s1", "line")]
    assert {"dataset_query", "visualization_settings", "entity_id", "can_write", "collection_id"} <= set(series[0])
    # A full replacement, in the new order; full card maps work as well as {id}.
    again = put(admin, dash["id"], dashcards=[{**body["dashcards"][0], "series": [series[1]]}], tabs=[]).json()
    assert [s["id"] for s in again["dashcards"][0]["series"]] == [s1["id"]]
    # Omitting `series` on an existing dashcard clears it.
    cleared = {k: v for k, v in again["dashcards"][0].items() if k != "series"}
    assert put(admin, dash["id"], dashcards=[cleared], tabs=[]).json()["dashcards"][0]["series"] == []


def test_new_dashcard_for_a_missing_or_archived_card(emulator, admin):
    dash = new_dashboard(admin)
    missing = put(admin, dash["id"], dashcards=[dashcard(-1, 9999)], tabs=[])
    assert missing.status_code == 404 and missing.text == "Not found."
    old = make_card(emulator, admin, "old")
    archive_card(admin, old["id"])
    archived = put(admin, dash["id"], dashcards=[dashcard(-1, old["id"])], tabs=[])
    assert archived.status_code == 404
    assert archived.json()["error_code"] == "archived" and archived.json()["message"] == "The object has been archived."


def test_parameter_mapping_for_a_card_that_does_not_exist_is_a_404(admin):
    dash = new_dashboard(admin, parameters=[{"id": "p1", "type": "category"}])
    mapping = {"parameter_id": "p1", "target": ["dimension", ["field", 1, None]]}
    resp = put(admin, dash["id"], dashcards=[dashcard(-1, -5, parameter_mappings=[mapping])], tabs=[])
    assert resp.status_code == 404
    assert resp.json()["message"] == "Card -5 does not exist or does not have a valid query."


def test_dashcard_write_on_an_archived_dashboard_is_refused_but_unarchiving_works(emulator, admin):
    card = make_card(emulator, admin)
    dash = new_dashboard(admin)
    put(admin, dash["id"], archived=True)
    refused = put(admin, dash["id"], archived=False, dashcards=[dashcard(-1, card["id"])], tabs=[])
    assert refused.status_code == 404 and refused.json()["error_code"] == "archived"
    assert get(admin, dash["id"])["archived"] is True
    restored = put(admin, dash["id"], archived=False).json()
    assert restored["archived"] is False and restored["archived_directly"] is False


def test_archived_dashboard_is_presented_in_the_trash(emulator, admin):
    trash = emulator.state.table("collection").first(type="trash")
    dash = new_dashboard(admin)
    body = put(admin, dash["id"], archived=True).json()
    assert body["archived"] is True and body["archived_directly"] is True and body["can_delete"] is True
    if trash is not None:
        assert get(admin, dash["id"])["collection_id"] == trash["id"]


# ---- virtual cards, actions, inline parameters ----

def test_virtual_cards_have_no_card_id(admin):
    dash = new_dashboard(admin)
    text = {"virtual_card": {"display": "text", "name": None, "archived": False, "dataset_query": {},
                             "visualization_settings": {}}, "text": "# Hello"}
    link = {"virtual_card": {"display": "link"}, "link": {"entity": {"model": "dashboard", "id": dash["id"]}}}
    body = put(admin, dash["id"], dashcards=[dashcard(-1, visualization_settings=text),
                                             dashcard(-2, visualization_settings=link, row=4)], tabs=[]).json()
    assert body["dashcards"][0]["card_id"] is None and body["dashcards"][0]["card"] is None
    fetched = get(admin, dash["id"])["dashcards"]
    assert fetched[0]["visualization_settings"] == text
    assert fetched[0]["card"] == {"query_average_duration": None} and fetched[0]["series"] == []
    entity = fetched[1]["visualization_settings"]["link"]["entity"]
    assert entity["name"] == "Sales" and entity["model"] == "dashboard"


def test_action_dashcards_keep_their_action_id(emulator, admin):
    model = make_card(emulator, admin, "model", type="model")
    action = emulator.state.table("action").insert({"name": "Do", "type": "implicit", "model_id": model["id"]})
    dash = new_dashboard(admin)
    settings = {"virtual_card": {"display": "action"}, "button.label": "Go"}
    body = put(admin, dash["id"], dashcards=[dashcard(-1, model["id"], action_id=action["id"],
                                                      visualization_settings=settings)], tabs=[]).json()
    assert body["dashcards"][0]["action_id"] == action["id"]
    assert get(admin, dash["id"])["dashcards"][0]["action"]["name"] == "Do"


def test_inline_parameters_are_kept_without_the_prune_quirk(emulator, admin):
    emulator.state.profile = with_overrides(emulator.state.profile, prune_inline_parameters=False)  # as on 0.56
    card = make_card(emulator, admin)
    params = [{"id": "inline", "type": "category"}, {"id": "header", "type": "category"}]
    dash = new_dashboard(admin)
    body = put(admin, dash["id"], parameters=params,
               dashcards=[dashcard(-1, card["id"], inline_parameters=["inline"])], tabs=[]).json()
    assert [p["id"] for p in body["parameters"]] == ["inline", "header"]
    assert body["dashcards"][0]["inline_parameters"] == ["inline"]


def test_prune_quirk_drops_inline_parameters_from_the_dashboard_from_0_57_on(emulator, admin):
    assert emulator.state.profile.prune_inline_parameters
    card = make_card(emulator, admin)
    params = [{"id": "inline", "type": "category"}, {"id": "header", "type": "category"}]
    dash = new_dashboard(admin)
    body = put(admin, dash["id"], parameters=params,
               dashcards=[dashcard(-1, card["id"], inline_parameters=["inline"])], tabs=[]).json()
    assert [p["id"] for p in body["parameters"]] == ["header"]
    assert body["dashcards"][0]["inline_parameters"] == ["inline"]
    # Parameters alone are not pruned: the two-step workaround restores them.
    assert len(put(admin, dash["id"], parameters=params).json()["parameters"]) == 2


def test_get_hides_dashcards_of_archived_cards(emulator, admin):
    c1, c2 = make_card(emulator, admin, "one"), make_card(emulator, admin, "two")
    dash = new_dashboard(admin)
    put(admin, dash["id"], dashcards=[dashcard(-1, c1["id"]), dashcard(-2, c2["id"], col=4)], tabs=[])
    archive_card(admin, c1["id"])
    assert [dc["card_id"] for dc in get(admin, dash["id"])["dashcards"]] == [c2["id"]]


# ---- dashboard questions ----

def test_dashboard_question_is_autoplaced_in_the_first_free_slot(emulator, admin):
    dash = new_dashboard(admin)
    q1 = make_card(emulator, admin, "q1", display="table", dashboard_id=dash["id"])
    q2 = make_card(emulator, admin, "q2", display="scalar", dashboard_id=dash["id"])
    q3 = make_card(emulator, admin, "q3", display="bar", dashboard_id=dash["id"])
    placed = {dc["card_id"]: (dc["row"], dc["col"], dc["size_x"], dc["size_y"]) for dc in get(admin, dash["id"])["dashcards"]}
    assert placed == {q1["id"]: (0, 0, 12, 9), q2["id"]: (0, 12, 6, 3), q3["id"]: (3, 12, 12, 6)}
    # Already placed: no second dashcard.
    dashboards.autoplace_for_card(emulator.state, emulator.state.table("card").get(q1["id"]))
    assert len(get(admin, dash["id"])["dashcards"]) == 3
    assert all(dc["card"]["dashboard_id"] == dash["id"] for dc in get(admin, dash["id"])["dashcards"])


def test_dashboard_question_goes_on_the_given_tab_or_the_first(emulator, admin):
    dash = new_dashboard(admin)
    tabs = put(admin, dash["id"], tabs=[{"id": -1, "name": "A"}, {"id": -2, "name": "B"}], dashcards=[]).json()["tabs"]
    first = make_card(emulator, admin, "first", dashboard_id=dash["id"])
    second = make_card(emulator, admin, "second", dashboard_id=dash["id"], dashboard_tab_id=tabs[1]["id"])
    by_card = {dc["card_id"]: dc for dc in get(admin, dash["id"])["dashcards"]}
    assert by_card[first["id"]]["dashboard_tab_id"] == tabs[0]["id"]
    assert (by_card[second["id"]]["dashboard_tab_id"], by_card[second["id"]]["row"]) == (tabs[1]["id"], 0)


def test_dropping_a_dashboard_question_archives_it_and_re_adding_unarchives(emulator, admin):
    dash = new_dashboard(admin)
    question = make_card(emulator, admin, "dq", dashboard_id=dash["id"])
    other = make_card(emulator, admin, "plain")
    placed = get(admin, dash["id"])["dashcards"]
    # Kept only as a series: series do not count, so the question is archived.
    put(admin, dash["id"], dashcards=[dashcard(-1, other["id"], series=[{"id": question["id"]}])], tabs=[])
    assert emulator.state.table("card").get(question["id"])["archived"] is True
    assert get(admin, dash["id"])["dashcards"][0]["series"][0]["id"] == question["id"]
    put(admin, dash["id"], dashcards=[dashcard(-1, question["id"])], tabs=[])
    assert emulator.state.table("card").get(question["id"])["archived"] is False
    assert placed[0]["card_id"] == question["id"]


def test_moving_or_archiving_the_dashboard_carries_its_questions(emulator, admin):
    dash = new_dashboard(admin)
    question = make_card(emulator, admin, "dq", dashboard_id=dash["id"])
    alone = make_card(emulator, admin, "archived alone", dashboard_id=dash["id"])
    archive_card(admin, alone["id"])
    coll = make_collection(admin)
    moved = put(admin, dash["id"], collection_id=coll).json()
    assert moved["collection_id"] == coll and moved["collection"]["id"] == coll
    cards = emulator.state.table("card")
    assert cards.get(question["id"])["collection_id"] == coll
    put(admin, dash["id"], archived=True)
    assert cards.get(question["id"])["archived"] is True
    put(admin, dash["id"], archived=False)
    assert cards.get(question["id"])["archived"] is False
    assert cards.get(alone["id"])["archived"] is True


def test_a_question_internal_to_another_dashboard_cannot_be_added(emulator, admin):
    home, elsewhere = new_dashboard(admin, "home"), new_dashboard(admin, "elsewhere")
    question = make_card(emulator, admin, "dq", dashboard_id=home["id"])
    plain = make_card(emulator, admin, "plain")
    for dc in (dashcard(-1, question["id"]), dashcard(-1, plain["id"], series=[{"id": question["id"]}])):
        resp = put(admin, elsewhere["id"], dashcards=[dc], tabs=[])
        assert resp.status_code == 400 and resp.text == "Invalid Request."


def test_remove_dashcards_for_card_takes_dashcards_and_series(emulator, admin):
    main, extra = make_card(emulator, admin, "main"), make_card(emulator, admin, "extra")
    dash = new_dashboard(admin)
    put(admin, dash["id"], dashcards=[dashcard(-1, main["id"], series=[{"id": extra["id"]}]),
                                      dashcard(-2, extra["id"], col=4)], tabs=[])
    dashboards.remove_dashcards_for_card(emulator.state, extra["id"])
    remaining = get(admin, dash["id"])["dashcards"]
    assert [(dc["card_id"], dc["series"]) for dc in remaining] == [(main["id"], [])]


def test_items_lists_the_dashboard_questions_on_it(emulator, admin):
    dash = new_dashboard(admin)
    question = make_card(emulator, admin, "dq", dashboard_id=dash["id"])
    plain = make_card(emulator, admin, "plain")
    dashcards = get(admin, dash["id"])["dashcards"]
    put(admin, dash["id"], dashcards=[*dashcards, dashcard(-1, plain["id"], row=20)], tabs=[])
    body = admin.get(f"/api/dashboard/{dash['id']}/items").json()
    assert set(body) == {"total", "data", "models", "limit", "offset"}
    assert body["total"] == 1 and body["models"] == ["card"] and body["limit"] is None
    item = body["data"][0]
    assert (item["id"], item["model"], item["dashboard_id"]) == (question["id"], "card", dash["id"])
    paged = admin.get(f"/api/dashboard/{dash['id']}/items", params={"limit": 1, "offset": 1}).json()
    assert paged == {"total": 0, "data": [], "models": [], "limit": 1, "offset": 1}


# ---- copy ----

def test_shallow_copy_is_refused_when_the_dashboard_holds_questions(emulator, admin):
    dash = new_dashboard(admin)
    make_card(emulator, admin, "dq", dashboard_id=dash["id"])
    resp = admin.post(f"/api/dashboard/{dash['id']}/copy", json={"name": "Copy"})
    assert resp.status_code == 400
    assert resp.text == "You cannot do a shallow copy of this dashboard because it contains Dashboard Questions."


def test_copy_with_an_explicit_null_deep_flag_is_not_refused(emulator, admin):
    dash = new_dashboard(admin)
    make_card(emulator, admin, "dq", dashboard_id=dash["id"])
    resp = admin.post(f"/api/dashboard/{dash['id']}/copy", json={"is_deep_copy": None})
    assert resp.status_code == 200
    copied = get(admin, resp.json()["id"])
    assert copied["dashcards"][0]["card"]["dashboard_id"] == copied["id"]


def test_shallow_copy_references_the_same_cards_and_copies_tabs(emulator, admin):
    card = make_card(emulator, admin)
    dash = new_dashboard(admin, parameters=[{"id": "p", "type": "category"}])
    put(admin, dash["id"], tabs=[{"id": -1, "name": "Tab"}],
        dashcards=[dashcard(-1, card["id"]), dashcard(-2, row=5, visualization_settings={"virtual_card": {"display": "text"}})])
    resp = admin.post(f"/api/dashboard/{dash['id']}/copy", json={"name": "Copy", "is_deep_copy": False})
    assert resp.status_code == 200
    copy_id = resp.json()["id"]
    copied = get(admin, copy_id)
    assert copied["name"] == "Copy" and copied["parameters"] == [{"id": "p", "type": "category"}]
    assert copied["collection_id"] is None and [t["name"] for t in copied["tabs"]] == ["Tab"]
    assert [dc["card_id"] for dc in copied["dashcards"]] == [card["id"], None]
    assert {dc["dashboard_tab_id"] for dc in copied["dashcards"]} == {copied["tabs"][0]["id"]}


def test_deep_copy_duplicates_questions_but_not_models(emulator, admin):
    dash = new_dashboard(admin)
    question = make_card(emulator, admin, "q")
    model = make_card(emulator, admin, "m", type="model")
    internal = make_card(emulator, admin, "dq", dashboard_id=dash["id"])
    put(admin, dash["id"], dashcards=[*get(admin, dash["id"])["dashcards"], dashcard(-1, question["id"], row=10),
                                      dashcard(-2, model["id"], row=20)], tabs=[])
    resp = admin.post(f"/api/dashboard/{dash['id']}/copy", json={"is_deep_copy": True})
    assert resp.status_code == 200
    copied = get(admin, resp.json()["id"])
    ids = [dc["card_id"] for dc in copied["dashcards"]]
    assert ids[2] == model["id"] and question["id"] not in ids and internal["id"] not in ids
    new_internal = copied["dashcards"][0]["card"]
    assert new_internal["name"] == "dq - Duplicate" and new_internal["dashboard_id"] == copied["id"]
    assert copied["dashcards"][1]["card"]["name"] == "q - Duplicate"


# ---- deprecated cards endpoint, query metadata ----

def test_deprecated_put_cards_shares_the_code_path(emulator, admin):
    card = make_card(emulator, admin)
    dash = new_dashboard(admin)
    put(admin, dash["id"], tabs=[{"id": -1, "name": "gone"}], dashcards=[])
    resp = admin.put(f"/api/dashboard/{dash['id']}/cards", json={"cards": [dashcard(-1, card["id"])]})
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"cards", "tabs"} and body["tabs"] == [] and body["cards"][0]["card_id"] == card["id"]


def test_query_metadata_bundles_the_databases_and_tables_the_cards_use(emulator, admin, sample_database):
    orders = emulator.state.table("metabase_table").first(name="orders")
    query = {"type": "query", "database": sample_database, "query": {"source-table": orders["id"]}}
    card = make_card(emulator, admin, dataset_query=query)
    dash = new_dashboard(admin)
    put(admin, dash["id"], dashcards=[dashcard(-1, card["id"])], tabs=[])
    body = admin.get(f"/api/dashboard/{dash['entity_id']}/query_metadata").json()
    assert set(body) == {"cards", "databases", "tables", "fields", "dashboards"}
    assert [d["id"] for d in body["databases"]] == [sample_database]
    assert [t["id"] for t in body["tables"]] == [orders["id"]] and body["tables"][0]["fields"]


# ---- permissions come from collections ----

def test_a_dashboard_in_someone_elses_personal_collection_is_forbidden(emulator, admin):
    from tests.conftest import make_client

    personal = admin.get("/api/user/current").json()["personal_collection_id"]
    mine = new_dashboard(admin, "private", collection_id=personal)
    shared = new_dashboard(admin, "shared")
    assert admin.post("/api/user", json={"email": "u@example.com", "password": "Passw0rd-x1"}).status_code == 200
    login = make_client(emulator).post("/api/session", json={"username": "u@example.com", "password": "Passw0rd-x1"})
    user = make_client(emulator, **{"X-Metabase-Session": login.json()["id"]})
    for resp in (user.get(f"/api/dashboard/{mine['id']}"), put(user, mine["id"], name="x"),
                 user.delete(f"/api/dashboard/{mine['id']}"), user.post("/api/dashboard", json={"name": "n", "collection_id": personal})):
        assert resp.status_code == 403 and resp.text == "You don't have permissions to do that."
    assert [d["id"] for d in user.get("/api/dashboard").json()] == [shared["id"]]
    assert get(user, shared["id"])["can_write"] is True
    # Embedding settings are for admins only.
    assert put(user, shared["id"], enable_embedding=True).status_code == 403


# ---- what moves on a dashboard's list row (update-dashboard, revisions, view-log, user-login events) ----

def _row(admin, dash_id):
    return next(d for d in admin.get("/api/dashboard").json() if d["id"] == dash_id)


def test_a_layout_only_save_keeps_the_row_but_pushes_a_revision(emulator, admin):
    card = make_card(emulator, admin)
    dash = new_dashboard(admin)
    before = _row(admin, dash["id"])
    assert put(admin, dash["id"], dashcards=[dashcard(-1, card["id"])], tabs=[]).status_code == 200
    after = _row(admin, dash["id"])
    assert after["updated_at"] == before["updated_at"]
    assert after["last-edit-info"]["timestamp"] > before["last-edit-info"]["timestamp"]
    assert put(admin, dash["id"], name="Renamed").status_code == 200
    assert _row(admin, dash["id"])["updated_at"] > after["updated_at"]


def test_a_detail_get_counts_a_view_and_a_login_moves_last_login(emulator, admin):
    dash = new_dashboard(admin)
    before = _row(admin, dash["id"])
    assert get(admin, dash["id"])["view_count"] == before["view_count"]  # counted after the answer is made
    after = _row(admin, dash["id"])
    assert after["view_count"] == before["view_count"] + 1
    assert after["updated_at"] == before["updated_at"]
    login = admin.post("/api/session", json={"username": before["creator"]["email"], "password": "Adm1n-passw0rd!"})
    assert login.status_code == 200, login.text
    assert _row(admin, dash["id"])["creator"]["last_login"] > before["creator"]["last_login"]


def test_creating_a_dashboard_in_the_trash_is_a_plain_400(admin):
    # collection.clj `check-write-perms-for-collection` (metabase's trash-test `cannot-create-in-trash`)
    trash = admin.get("/api/collection/trash").json()
    made = admin.post("/api/dashboard", json={"name": "Binned", "collection_id": trash["id"]})
    assert (made.status_code, made.text) == (400, "You cannot modify the Trash Collection.")


# ---- dashcards of archived cards (dashboards/models/dashboard.clj `dashcards` hydration) ----

def _trashed_collection_with_a_dashboard(emulator, admin):
    """A collection holding a dashboard that shows a collection question and a dashboard question, then trashed."""
    coll = make_collection(admin, "Doomed")
    dash = new_dashboard(admin, "Doomed board", collection_id=coll)
    plain = make_card(emulator, admin, "plain", collection_id=coll)
    dq = make_card(emulator, admin, "dq", collection_id=coll, dashboard_id=dash["id"])
    put(admin, dash["id"], tabs=[], dashcards=[dashcard(-1, plain["id"]), dashcard(-2, dq["id"], row=4),
                                                dashcard(-3, None, row=8, visualization_settings={
                                                    "virtual_card": {"display": "text"}, "text": "note"})])
    assert admin.put(f"/api/collection/{coll}", json={"archived": True}).status_code == 200
    return coll, dash, plain, dq


def test_get_hides_dashcards_of_archived_cards_but_not_dashboard_questions_archived_with_their_dashboard(
        emulator, admin):
    coll, dash, plain, dq = _trashed_collection_with_a_dashboard(emulator, admin)
    shown = get(admin, dash["id"])["dashcards"]
    assert sorted((dc["card_id"] or 0) for dc in shown) == [0, dq["id"]]  # the text card and the dashboard question
    assert admin.put(f"/api/collection/{coll}", json={"archived": False}).status_code == 200
    assert sorted((dc["card_id"] or 0) for dc in get(admin, dash["id"])["dashcards"]) == [0, plain["id"], dq["id"]]
    # A dashboard question archived on its own (archived_directly) is hidden too.
    archive_card(admin, dq["id"])
    assert sorted((dc["card_id"] or 0) for dc in get(admin, dash["id"])["dashcards"]) == [0, plain["id"]]


def test_the_layout_put_leaves_hidden_dashcards_alone(emulator, admin):
    """update-dashboard! diffs the request against the hydrated `:dashcards` (hidden ones are not among them), so a
    PUT without them neither deletes them nor sees them."""
    dash = new_dashboard(admin)
    kept, gone = make_card(emulator, admin, "kept"), make_card(emulator, admin, "archived")
    put(admin, dash["id"], tabs=[], dashcards=[dashcard(-1, kept["id"]), dashcard(-2, gone["id"], row=4)])
    archive_card(admin, gone["id"])
    shown = get(admin, dash["id"])["dashcards"]
    assert [dc["card_id"] for dc in shown] == [kept["id"]]
    assert put(admin, dash["id"], tabs=[], dashcards=[{k: shown[0][k] for k in (
        "id", "card_id", "row", "col", "size_x", "size_y")}]).status_code == 200
    assert admin.put(f"/api/card/{gone['id']}", json={"archived": False}).status_code == 200
    assert sorted(dc["card_id"] for dc in get(admin, dash["id"])["dashcards"]) == sorted([kept["id"], gone["id"]])
