"""The emulator's tables: lookups stay right while rows change in place, and transactions undo a failed write."""

from __future__ import annotations

import copy

import orjson
import pytest

from mbport.emulator.profiles import get_profile
from mbport.emulator.store import State


@pytest.fixture
def state() -> State:
    return State(get_profile(None))


def ids(rows) -> list[int]:
    return [r["id"] for r in rows]


def test_lookups_follow_changes_made_in_place(state):
    cards = state.table("card")
    for n in range(6):
        cards.insert({"collection_id": n % 2, "archived": False})
    assert ids(cards.where(collection_id=1)) == [2, 4, 6]  # builds the index
    cards.get(3)["collection_id"] = 1
    cards.get(4).update(collection_id=0, archived=True)
    del cards.get(6)["collection_id"]
    cards.insert({"collection_id": 1})
    cards.delete(2)
    assert ids(cards.where(collection_id=1)) == [3, 7]  # still in id order
    assert ids(cards.where(collection_id=None)) == [6]  # a missing key reads as None, as row.get does
    assert ids(cards.where(collection_id=0, archived=True)) == [4]
    assert ids(cards.where(lambda r: r["id"] > 3, collection_id=0)) == [4, 5]
    cards.get(5).pop("archived")
    cards.get(5).setdefault("archived", True)
    assert ids(cards.where(archived=True)) == [4, 5]


def test_lookups_by_values_that_cannot_be_indexed(state):
    dashboards = state.table("dashboard")
    dashboards.insert({"parameters": [{"id": "a"}], "collection_id": 1})
    dashboards.insert({"parameters": [], "collection_id": 1})
    assert ids(dashboards.where(parameters=[])) == [2]
    dashboards.get(2)["collection_id"] = [1]  # an index of collection_id cannot hold this any more
    assert ids(dashboards.where(collection_id=1)) == [1]
    assert ids(dashboards.where(collection_id=[1])) == [2]


def test_entity_id_lookup_follows_changes(state):
    cards = state.table("card")
    card = cards.insert({"name": "a"})
    assert cards.get(card["entity_id"]) is card
    old, card["entity_id"] = card["entity_id"], "x" * 21
    assert cards.get(old) is None and cards.get("x" * 21) is card


def test_a_failed_transaction_undoes_every_row_change(state):
    cards, tabs = state.table("card"), state.table("dashboard_tab")
    for n in range(3):
        cards.insert({"collection_id": 1, "name": f"c{n}"})
    tabs.insert({"dashboard_id": 9})
    assert ids(cards.where(collection_id=1)) == [1, 2, 3]
    before = orjson.dumps({name: list(state.table(name).rows.values()) for name in ("card", "dashboard_tab")})
    with pytest.raises(RuntimeError), state.transaction():
        cards.get(1).update(collection_id=2, name="moved")
        cards.get(2)["description"] = "new key"
        cards.delete(3)
        cards.insert({"collection_id": 1})
        with state.transaction():  # a nested block joins the outer one
            tabs.delete(1)
            tabs.insert({"dashboard_id": 9})
        raise RuntimeError("the request failed half-way")
    after = orjson.dumps({name: list(state.table(name).rows.values()) for name in ("card", "dashboard_tab")})
    assert after == before  # same rows, same values, same id order
    assert ids(cards.where(collection_id=1)) == [1, 2, 3] and ids(tabs.where(dashboard_id=9)) == [1]
    assert cards.insert({})["id"] == 5  # ids handed out stay used, as with SQL sequences


def test_a_successful_transaction_keeps_its_changes(state):
    cards = state.table("card")
    with state.transaction():
        cards.insert({"collection_id": 1})
    with pytest.raises(ValueError), state.transaction():
        raise ValueError("later failure")
    assert ids(cards.where(collection_id=1)) == [1]


def test_copies_of_rows_are_plain_dicts(state):
    cards = state.table("card")
    card = cards.insert({"collection_id": 1, "parameters": [1]})
    for clone in (dict(card), card.copy(), copy.copy(card), copy.deepcopy(card)):
        assert type(clone) is dict and clone == card
        clone["collection_id"] = 2
    assert ids(cards.where(collection_id=1)) == [1]
    assert orjson.loads(orjson.dumps(card)) == dict(card)
