"""Pinned items (collection_position) shift like Metabase's maybe-reconcile-collection-position! (api/common.clj)."""

from __future__ import annotations

import pytest

from tests.emulator.test_pulses import email_channel, make_card, make_collection


def pins(emulator, collection_id) -> dict[str, int]:
    """name → position of every pinned card, dashboard and pulse of one collection (None = root)."""
    out = {}
    for table in ("card", "dashboard", "pulse"):
        for row in emulator.state.table(table):
            if row.get("collection_id") == collection_id and row.get("collection_position") is not None:
                out[row["name"]] = row["collection_position"]
    return out


def pinned_card(emulator, admin, name, collection_id, position) -> int:
    card_id = make_card(emulator, admin, name, collection_id)
    resp = admin.put(f"/api/card/{card_id}", json={"collection_position": position})
    assert resp.status_code == 200, resp.text
    return card_id


def new_card(admin, emulator, name, collection_id, position) -> int:
    database = next(iter(emulator.state.table("metabase_database")), None)
    resp = admin.post("/api/card", json={
        "name": name, "display": "table", "visualization_settings": {}, "collection_id": collection_id,
        "collection_position": position,
        "dataset_query": {"database": database["id"] if database else 1, "type": "native", "native": {"query": "select 1"}}})
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


@pytest.fixture
def coll(emulator, admin):
    return make_collection(emulator, admin, "Pins")


def test_creating_at_a_taken_position_shifts_every_model_at_and_after_it(emulator, admin, coll):
    other = make_collection(emulator, admin, "Elsewhere")
    new_card(admin, emulator, "A", coll, 1)
    new_card(admin, emulator, "B", coll, 2)
    new_card(admin, emulator, "Far", other, 1)
    resp = admin.post("/api/dashboard", json={"name": "D", "collection_id": coll, "collection_position": 1})
    assert resp.status_code == 200, resp.text
    assert pins(emulator, coll) == {"D": 1, "A": 2, "B": 3}
    new_card(admin, emulator, "C", coll, 3)
    assert pins(emulator, coll) == {"D": 1, "A": 2, "C": 3, "B": 4}
    assert pins(emulator, other) == {"Far": 1}  # another collection's pins never move
    new_card(admin, emulator, "Unpinned", coll, None)
    assert pins(emulator, coll) == {"D": 1, "A": 2, "C": 3, "B": 4}


def test_creating_pins_in_descending_order_renumbers_them(emulator, admin, coll):
    """Why an importer writing pins concurrently (any order) does not get the positions it sent."""
    for name, position in (("C", 3), ("A", 1), ("B", 2)):
        new_card(admin, emulator, name, coll, position)
    assert pins(emulator, coll) == {"A": 1, "B": 2, "C": 5}


def test_the_root_collection_reconciles_too(emulator, admin):
    new_card(admin, emulator, "A", None, 1)
    new_card(admin, emulator, "B", None, 1)
    assert pins(emulator, None) == {"B": 1, "A": 2}


def test_moving_a_pin_down_or_up_shifts_the_pins_between(emulator, admin, coll):
    ids = {n: pinned_card(emulator, admin, n, coll, i) for i, n in enumerate("ABCD", 1)}
    assert pins(emulator, coll) == {"A": 1, "B": 2, "C": 3, "D": 4}
    admin.put(f"/api/card/{ids['D']}", json={"collection_position": 2}).raise_for_status()
    assert pins(emulator, coll) == {"A": 1, "D": 2, "B": 3, "C": 4}
    admin.put(f"/api/card/{ids['A']}", json={"collection_position": 3}).raise_for_status()
    assert pins(emulator, coll) == {"D": 1, "B": 2, "A": 3, "C": 4}
    admin.put(f"/api/card/{ids['B']}", json={"collection_position": None}).raise_for_status()
    assert pins(emulator, coll) == {"D": 1, "A": 2, "C": 3}
    admin.put(f"/api/card/{ids['B']}", json={"name": "B2"}).raise_for_status()  # no position key: no change
    assert pins(emulator, coll) == {"D": 1, "A": 2, "C": 3}


def test_dashboards_reconcile_on_update(emulator, admin, coll):
    pinned_card(emulator, admin, "A", coll, 1)
    pinned_card(emulator, admin, "B", coll, 2)
    dash = admin.post("/api/dashboard", json={"name": "D", "collection_id": coll}).json()["id"]
    admin.put(f"/api/dashboard/{dash}", json={"collection_position": 1}).raise_for_status()
    assert pins(emulator, coll) == {"D": 1, "A": 2, "B": 3}
    admin.put(f"/api/dashboard/{dash}", json={"collection_position": 3}).raise_for_status()
    assert pins(emulator, coll) == {"A": 1, "B": 2, "D": 3}


def test_a_move_keeps_the_position_in_the_new_collection_and_closes_the_gap(emulator, admin, coll):
    other = make_collection(emulator, admin, "Other")
    ids = {n: pinned_card(emulator, admin, n, coll, i) for i, n in enumerate("ABC", 1)}
    pinned_card(emulator, admin, "X", other, 1)
    pinned_card(emulator, admin, "Y", other, 2)
    admin.put(f"/api/card/{ids['B']}", json={"collection_id": other}).raise_for_status()
    assert pins(emulator, coll) == {"A": 1, "C": 2}
    assert pins(emulator, other) == {"X": 1, "B": 2, "Y": 3}
    admin.put(f"/api/card/{ids['A']}", json={"collection_id": other, "collection_position": 1}).raise_for_status()
    assert pins(emulator, coll) == {"C": 1}
    assert pins(emulator, other) == {"A": 1, "X": 2, "B": 3, "Y": 4}


def test_pulses_share_the_numbering(emulator, admin, coll):
    pinned_card(emulator, admin, "A", coll, 1)
    card = make_card(emulator, admin, "Reported", coll)
    resp = admin.post("/api/pulse", json={
        "name": "P", "collection_id": coll, "collection_position": 1,
        "cards": [{"id": card, "include_csv": False, "include_xls": False, "dashboard_card_id": None}],
        "channels": [email_channel([{"email": "ext@partner.io"}])]})
    assert resp.status_code == 200, resp.text
    assert pins(emulator, coll) == {"P": 1, "A": 2}
    admin.put(f"/api/pulse/{resp.json()['id']}", json={"collection_position": 2}).raise_for_status()
    assert pins(emulator, coll) == {"A": 1, "P": 2}


def test_bulk_move_appends_pins_and_closes_gaps(emulator, admin, coll):
    other = make_collection(emulator, admin, "Other")
    ids = {n: pinned_card(emulator, admin, n, coll, i) for i, n in enumerate("ABCD", 1)}
    pinned_card(emulator, admin, "X", other, 1)
    unpinned = make_card(emulator, admin, "U", coll)
    resp = admin.post("/api/card/collections", json={"card_ids": [ids["C"], ids["A"], unpinned],
                                                     "collection_id": other})
    assert resp.status_code == 200, resp.text
    assert pins(emulator, coll) == {"B": 1, "D": 2}
    assert pins(emulator, other) == {"X": 1, "A": 2, "C": 3}
    assert emulator.state.table("card").get(unpinned)["collection_id"] == other
