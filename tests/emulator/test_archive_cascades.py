"""Archiving and restoring carry the cascades Metabase runs (api-surface §23 "Cascades" and "Trash presentation").

Each test fails on an emulator that archives the one object only: the cascade is what deletes or archives the others.
"""

from __future__ import annotations

import pytest

from tests.emulator import test_pulses
from tests.emulator.test_notifications import alert_body
from tests.emulator.test_pulses import make_card, make_collection, subscription


def _alert(admin, card_id, active=True):
    resp = admin.post("/api/notification", json=alert_body(card_id, [{"type": "notification-recipient/raw-value",
                                                                        "details": {"value": "a@b.io"}}],
                                                              active=active))
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def _alert_ids(admin):
    rows = admin.get("/api/notification", params={"payload_type": "notification/card",
                                                  "include_inactive": "true"}).json()
    return {r["id"] for r in rows}


def _put(admin, path, **body):
    resp = admin.put(path, json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


content = pytest.fixture(test_pulses.content.__wrapped__, name="content")


@pytest.fixture
def shop(emulator, admin):
    """Collection "Shop" > "Inner"; a card in each; a dashboard in Shop with a subscription; a timeline; a snippet
    folder with a snippet."""
    shop = make_collection(emulator, admin, "Shop")
    inner = _put(admin, f"/api/collection/{make_collection(emulator, admin, 'Inner')}", parent_id=shop)["id"]
    top_card, inner_card = make_card(emulator, admin, "Top", shop), make_card(emulator, admin, "Deep", inner)
    return {"shop": shop, "inner": inner, "top_card": top_card, "inner_card": inner_card}


def test_archiving_a_card_deletes_its_active_alerts_only(admin, emulator, shop):
    _active, paused = _alert(admin, shop["top_card"]), _alert(admin, shop["top_card"], active=False)
    other = _alert(admin, shop["inner_card"])
    _put(admin, f"/api/card/{shop['top_card']}", archived=True)
    assert _alert_ids(admin) == {paused, other}
    # An alert made after the archive stays: Metabase does not refuse alerts on an archived card.
    later = _alert(admin, shop["top_card"])
    assert later in _alert_ids(admin)


def test_a_display_change_that_breaks_an_alert_deletes_it(admin, emulator, shop):
    kept, gone = _alert(admin, shop["inner_card"]), _alert(admin, shop["top_card"])
    _put(admin, f"/api/card/{shop['top_card']}", display="line")  # a rows alert makes no sense on a line chart
    _put(admin, f"/api/card/{shop['inner_card']}", display="scalar")  # table → scalar keeps a rows alert
    assert _alert_ids(admin) == {kept} and gone not in _alert_ids(admin)


def test_archiving_a_collection_cascades_to_followers_and_alerts(admin, emulator, content, shop):
    state = emulator.state
    top_alert, inner_alert = _alert(admin, shop["top_card"]), _alert(admin, shop["inner_card"])
    timeline = admin.post("/api/timeline", json={"name": "Launches", "collection_id": shop["inner"]}).json()
    folder = make_collection(emulator, admin, "Snips", namespace="snippets")
    snippet = admin.post("/api/native-query-snippet", json={"name": "s", "content": "1", "collection_id": folder}).json()
    # The subscription's dashboard sits in Shop: move the fixture's dashboard there.
    _put(admin, f"/api/dashboard/{content['dashboard']}", collection_id=shop["shop"])
    pulse = admin.post("/api/pulse", json=subscription(content)).json()
    assert pulse["collection_id"] == shop["shop"]

    _put(admin, f"/api/collection/{shop['shop']}", archived=True)
    # Alerts of cards directly in the archived collection go; those of cards in sub-collections stay.
    assert top_alert not in _alert_ids(admin) and inner_alert in _alert_ids(admin)
    assert state.table("timeline").get(timeline["id"])["archived"] is True
    # The cascade archives the dashboard in bulk, and the Dashboard before-update hook deletes its subscriptions.
    assert state.table("pulse").get(pulse["id"]) is None
    dash = admin.get(f"/api/dashboard/{content['dashboard']}").json()
    assert dash["archived"] is True and dash["archived_directly"] is False and dash["collection_id"] == shop["shop"]

    _put(admin, f"/api/collection/{folder}", archived=True)
    assert state.table("native_query_snippet").get(snippet["id"])["archived"] is True
    _put(admin, f"/api/collection/{folder}", archived=False)
    assert state.table("native_query_snippet").get(snippet["id"])["archived"] is False


def test_restoring_a_collection_restores_every_follower_and_drops_alerts_again(admin, emulator, shop):
    state = emulator.state
    timeline = admin.post("/api/timeline", json={"name": "Launches", "collection_id": shop["shop"]}).json()
    _put(admin, f"/api/timeline/{timeline['id']}", archived=True)  # archived on its own, before the collection
    _put(admin, f"/api/collection/{shop['shop']}", archived=True)
    alert = _alert(admin, shop["top_card"])  # made while the collection is in the Trash
    _put(admin, f"/api/collection/{shop['shop']}", archived=False)
    # unarchive-collection! sets archived false on every timeline in it, however it was archived.
    assert state.table("timeline").get(timeline["id"])["archived"] is False
    # maybe-send-archived-notifications! runs on any change of `archived`, restoring too.
    assert alert not in _alert_ids(admin)
    inner = admin.get(f"/api/collection/{shop['inner']}").json()
    assert inner["archived"] is False


def test_removing_a_dashboard_parameter_archives_the_subscriptions_that_use_it(admin, emulator, content):
    param = {"id": "p1", "name": "State", "slug": "state", "type": "category"}
    _put(admin, f"/api/dashboard/{content['dashboard']}", parameters=[param])
    uses = admin.post("/api/pulse", json=subscription(content, "Uses it", parameters=[{**param, "value": ["CA"]}])).json()
    plain = admin.post("/api/pulse", json=subscription(content, "Plain")).json()
    _put(admin, f"/api/dashboard/{content['dashboard']}", description="no parameters sent: nothing breaks")
    assert emulator.state.table("pulse").get(uses["id"])["archived"] is False
    _put(admin, f"/api/dashboard/{content['dashboard']}", parameters=[])
    assert admin.get(f"/api/pulse/{uses['id']}").json()["archived"] is True
    assert all(not c["enabled"] for c in admin.get(f"/api/pulse/{uses['id']}").json()["channels"])
    assert admin.get(f"/api/pulse/{plain['id']}").json()["archived"] is False


def test_restoring_a_timeline_restores_all_its_events(admin, emulator):
    timeline = admin.post("/api/timeline", json={"name": "Releases"}).json()
    events = [admin.post("/api/timeline-event", json={"name": n, "timeline_id": timeline["id"],
                                                      "timestamp": "2026-01-01T00:00:00Z", "timezone": "UTC"}).json() for n in "ab"]
    _put(admin, f"/api/timeline-event/{events[0]['id']}", archived=True)
    _put(admin, f"/api/timeline/{timeline['id']}", archived=True)
    _put(admin, f"/api/timeline/{timeline['id']}", archived=False)
    got = admin.get(f"/api/timeline/{timeline['id']}", params={"include": "events", "archived": "true"}).json()
    assert [e["archived"] for e in got["events"]] == [False, False]


# ---- Trash presentation (api-surface §23) ----

def test_directly_archived_items_are_presented_in_the_trash_with_their_home_in_collection(admin, emulator, content):
    trash = admin.get("/api/collection/trash").json()["id"]
    home = emulator.state.table("dashboard").get(content["dashboard"])["collection_id"]
    card_id = content["other_card"]
    _put(admin, f"/api/card/{card_id}", archived=True, collection_id=None)  # collection_id ignored with archived
    _put(admin, f"/api/dashboard/{content['dashboard']}", archived=True)
    card = admin.get(f"/api/card/{card_id}").json()
    dash = admin.get(f"/api/dashboard/{content['dashboard']}").json()
    for item in (card, dash):
        assert item["collection_id"] == trash and item["collection"]["id"] == home and item["archived_directly"]
    listed_cards = {c["id"]: c for c in admin.get("/api/card", params={"f": "archived"}).json()}
    listed_dashes = {d["id"]: d for d in admin.get("/api/dashboard", params={"f": "archived"}).json()}
    assert listed_cards[card_id]["collection_id"] == home
    assert listed_dashes[content["dashboard"]]["collection_id"] == home


def test_an_item_can_be_restored_in_place_while_its_collection_is_archived(admin, emulator, shop):
    _put(admin, f"/api/collection/{shop['shop']}", archived=True)
    card = _put(admin, f"/api/card/{shop['top_card']}", archived=False)
    assert card["archived"] is False and card["collection_id"] == shop["shop"]
    assert admin.get(f"/api/card/{shop['top_card']}").json()["collection_id"] == shop["shop"]
