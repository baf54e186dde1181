"""Content verification as Metabase does it (content_verification/api/moderation_review.clj, models/moderation_review.clj,
impl.clj): POST /api/moderation-review is an Enterprise route (404 on an OSS build) that needs `content_verification`
(402 before anything else), an admin, a known
status and item; the item's details show its reviews newest first with the moderator, only the newest is
`most_recent`, ten are kept; a verified card whose query changes is unverified; dashboards are verifiable from 0.52."""

from __future__ import annotations

import pytest

from mbport.emulator import Emulator, bootstrap
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_client
from tests.emulator.test_cards import new_card, new_dashboard
from tests.emulator.test_collections import new_user_client


def review(client, item_type, item_id, status="verified", text=None):
    return client.post("/api/moderation-review", json={"moderated_item_type": item_type, "moderated_item_id": item_id,
                                                       "status": status, "text": text})


def enterprise(profile: str = "0.65"):
    emu = Emulator(profile, premium_features="content_verification")
    session = bootstrap.setup_admin(emu, ADMIN_EMAIL, ADMIN_PASSWORD)
    return emu, make_client(emu, **{"X-Metabase-Session": session})


def test_an_oss_build_has_no_such_route(admin):
    card = new_card(admin)
    refused = review(admin, "card", card["id"])
    assert refused.status_code == 404  # no EE routes: api_routes/routes.clj `not-found-handler`
    assert admin.get(f"/api/card/{card['id']}").json()["moderation_reviews"] == []


def test_without_the_feature_every_request_is_a_402_before_auth_and_validation(admin, anon, emulator):
    emulator.premium_features = "sandboxes"  # an Enterprise build whose token lacks content_verification
    card = new_card(admin)
    for client, body in ((admin, {"moderated_item_type": "card", "moderated_item_id": card["id"], "status": "verified"}),
                         (admin, {"moderated_item_type": "card", "moderated_item_id": card["id"], "status": "bad"}),
                         (anon, {"moderated_item_type": "card", "moderated_item_id": card["id"]})):
        refused = client.post("/api/moderation-review", json=body)
        assert refused.status_code == 402, refused.text
        assert refused.json()["message"].startswith("Content verification is a paid feature")
    assert admin.get(f"/api/card/{card['id']}").json()["moderation_reviews"] == []


@pytest.mark.allow_invalid_requests
def test_a_bad_status_is_a_400_an_unknown_item_a_404_a_non_admin_a_403(admin, emulator):
    emulator.premium_features = "content_verification"
    card = new_card(admin)
    assert review(admin, "card", card["id"], status="approved").status_code == 400  # Statuses: "verified" or nil
    assert review(admin, "table", card["id"]).status_code == 400  # moderated-item-types
    assert review(admin, "card", 999999).status_code == 404  # check-404 (t2/exists? ...)
    assert review(admin, "dashboard", 999999).status_code == 404
    user, _ = new_user_client(admin, emulator, "rita@example.com")
    assert review(user, "card", card["id"]).status_code == 403  # check-superuser
    assert admin.get(f"/api/card/{card['id']}").json()["moderation_reviews"] == []


def test_the_review_is_answered_and_shows_in_the_details_newest_first(ee):
    _, client = ee
    card = new_card(client, "Checked")
    made = review(client, "card", card["id"], text="Numbers match finance")
    assert made.status_code == 200, made.text
    row = made.json()
    assert {k: row[k] for k in ("moderated_item_type", "moderated_item_id", "status", "text", "most_recent")} == {
        "moderated_item_type": "card", "moderated_item_id": card["id"], "status": "verified",
        "text": "Numbers match finance", "most_recent": True}
    assert isinstance(row["moderator_id"], int) and row["created_at"] and "user" not in row
    review(client, "card", card["id"], status=None, text="stale")
    reviews = client.get(f"/api/card/{card['id']}").json()["moderation_reviews"]
    assert [(r["status"], r["text"], r["most_recent"]) for r in reviews] == [
        (None, "stale", True), ("verified", "Numbers match finance", False)]
    assert reviews[0]["user"]["email"] == ADMIN_EMAIL and reviews[0]["moderator_id"] == reviews[0]["user"]["id"]


def test_ten_reviews_are_kept_per_item(ee):
    _, client = ee
    card = new_card(client)
    for i in range(12):
        review(client, "card", card["id"], text=f"review {i}")
    reviews = client.get(f"/api/card/{card['id']}").json()["moderation_reviews"]
    assert [r["text"] for r in reviews] == [f"review {i}" for i in range(11, 1, -1)]  # max-moderation-reviews
    assert [r["most_recent"] for r in reviews] == [True] + [False] * 9


def test_verification_shows_wherever_the_item_is_hydrated(ee):
    _, client = ee
    card, other = new_card(client, "Checked"), new_card(client, "Other")
    dash = new_dashboard(client, "Board")
    client.put(f"/api/dashboard/{dash['id']}", json={"dashcards": [
        {"id": -1, "card_id": card["id"], "row": 0, "col": 0, "size_x": 4, "size_y": 4}]})
    question = new_card(client, "On the board", dashboard_id=dash["id"])
    review(client, "card", card["id"], text="ok")
    review(client, "dashboard", dash["id"])
    detail = client.get(f"/api/dashboard/{dash['id']}").json()
    assert [(r["moderated_item_type"], r["status"]) for r in detail["moderation_reviews"]] == [("dashboard", "verified")]
    on_board = {dc["card_id"]: dc["card"]["moderation_reviews"] for dc in detail["dashcards"]}
    assert [r["text"] for r in on_board[card["id"]]] == ["ok"] and on_board[question["id"]] == []
    assert client.get(f"/api/card/{question['id']}").json()["dashboard"]["moderation_status"] == "verified"
    items = {(i["model"], i["id"]): i for i in client.get("/api/collection/root/items").json()["data"]}
    assert items[("card", card["id"])]["moderated_status"] == "verified"
    assert items[("card", other["id"])]["moderated_status"] is None
    assert items[("dashboard", dash["id"])]["moderated_status"] == "verified"


def test_changing_a_verified_cards_query_unverifies_it_and_nothing_else_does(ee):
    _, client = ee
    card = new_card(client, "Checked")
    review(client, "card", card["id"])
    client.put(f"/api/card/{card['id']}", json={"name": "Renamed", "description": "same query"})
    client.put(f"/api/card/{card['id']}", json={"dataset_query": card["dataset_query"]})  # unchanged query
    assert [r["status"] for r in client.get(f"/api/card/{card['id']}").json()["moderation_reviews"]] == ["verified"]
    query = {**card["dataset_query"], "native": {"query": "select 2", "template-tags": {}}}
    assert client.put(f"/api/card/{card['id']}", json={"dataset_query": query}).status_code == 200
    latest = client.get(f"/api/card/{card['id']}").json()["moderation_reviews"]
    assert [(r["status"], r["text"], r["most_recent"]) for r in latest] == [
        (None, "Unverified due to edit", True), ("verified", None, False)]
    client.put(f"/api/card/{card['id']}", json={"dataset_query": card["dataset_query"]})  # not verified: no review
    assert len(client.get(f"/api/card/{card['id']}").json()["moderation_reviews"]) == 2


def test_a_dashboard_stays_verified_when_edited(ee):
    _, client = ee
    dash = new_dashboard(client, "Board")
    review(client, "dashboard", dash["id"])
    client.put(f"/api/dashboard/{dash['id']}", json={"name": "Renamed board", "description": "edited"})
    assert [r["status"] for r in client.get(f"/api/dashboard/{dash['id']}").json()["moderation_reviews"]] == ["verified"]


def test_deleting_a_card_deletes_its_reviews(ee):
    emu, client = ee
    card = new_card(client)
    review(client, "card", card["id"])
    assert client.delete(f"/api/card/{card['id']}").status_code == 204
    assert emu.state.table("moderation_review").where(moderated_item_id=card["id"], moderated_item_type="card") == []


def test_before_0_52_only_cards_are_verifiable():
    emu, client = enterprise("0.50")
    card, dash = new_card(client), new_dashboard(client)
    assert review(client, "card", card["id"]).status_code == 200
    refused = review(client, "dashboard", dash["id"])
    assert refused.status_code == 400 and "moderated_item_type" in refused.json()["errors"]
    assert "moderation_reviews" not in client.get(f"/api/dashboard/{dash['id']}").json()  # recorded/mbql4 (0.50.5)
    items = {(i["model"], i["id"]): i for i in client.get("/api/collection/root/items").json()["data"]}
    assert "moderated_status" not in items[("dashboard", dash["id"])]
    assert items[("card", card["id"])]["moderated_status"] == "verified"
    _, newer = enterprise("0.54")
    assert review(newer, "dashboard", new_dashboard(newer)["id"]).status_code == 200


def verified_search(client, **params):
    resp = client.get("/api/search", params={"verified": "true", **params})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_search_verified_lists_the_cards_whose_newest_review_verifies_them(ee):
    """search/in_place/filter.clj `build-optional-filter-query [:verified "card"]` (the newest review says
    verified), `search-context->applicable-models` (only card, dataset and metric take the filter), archived items
    only with `archived=true`, dashboard questions only with `include_dashboard_questions=true`."""
    _, client = ee
    plain, model, metric = new_card(client, "Plain"), new_card(client, "Model", type="model"), new_card(
        client, "Metric", type="metric")
    unverified, other = new_card(client, "Unverified"), new_card(client, "Never reviewed")
    dash = new_dashboard(client, "Verified dashboard")
    in_dash = new_card(client, "In the dashboard", dashboard_id=dash["id"])
    gone = new_card(client, "Archived")
    for item in (plain, model, metric, unverified, in_dash, gone):
        review(client, "card", item["id"], text="ok")
    review(client, "card", unverified["id"], status=None)
    review(client, "dashboard", dash["id"])
    client.put(f"/api/card/{gone['id']}", json={"archived": True})
    found = verified_search(client)
    assert sorted((r["model"], r["id"], r["moderated_status"]) for r in found["data"]) == sorted(
        [("card", plain["id"], "verified"), ("dataset", model["id"], "verified"), ("metric", metric["id"], "verified")])
    assert sorted(found["models"]) == ["card", "dataset", "metric"] and found["total"] == 3
    assert "text" not in found["data"][0]  # the status only: the note is in the details
    assert {r["id"] for r in verified_search(client, include_dashboard_questions="true")["data"]} == {
        plain["id"], model["id"], metric["id"], in_dash["id"]}
    assert [r["id"] for r in verified_search(client, archived="true")["data"]] == [gone["id"]]
    assert verified_search(client, models="dashboard")["data"] == []  # no verified filter for dashboards
    assert other["id"] not in {r["id"] for r in verified_search(client, models=["card", "dashboard"])["data"]}


def test_search_verified_without_the_feature_is_empty_not_refused(ee):
    """search/filter.clj `where-clause* :verified`: without content-verification the filter is a false clause."""
    emu, admin = ee
    review(admin, "card", new_card(admin, "Plain")["id"])
    assert verified_search(admin)["total"] == 1
    emu.premium_features = "sandboxes"  # the token lost the feature: the review stays, the filter matches nothing
    assert verified_search(admin)["data"] == [] and verified_search(admin)["total"] == 0
    assert admin.get("/api/search", params={"verified": "false"}).status_code == 400  # `[:maybe true?]`


def test_search_keeps_at_most_max_filtered_results_and_total_counts_the_kept(ee, monkeypatch):
    """search/config.clj `max-filtered-results`: the best N results are kept, paging applies inside them."""
    from mbport.emulator.routes import search
    _, client = ee
    monkeypatch.setattr(search, "MAX_RESULTS", 2)
    for name in "ABC":
        review(client, "card", new_card(client, name)["id"])
    found = verified_search(client)
    assert len(found["data"]) == 2 and found["total"] == 2
    assert verified_search(client, limit=5, offset=1)["data"] == found["data"][1:]
