"""Objects sharing a name in one collection are paired with their own counterparts when import has no state to go by."""

from __future__ import annotations

from typing import Any

import pytest

from mbport.check import load_tree
from mbport.engine import Importer
from mbport.export import run_export
from mbport.state import State
from tests.conftest import assert_settled, seeded_instance
from tests.verify.judge import judged

NAME = "Invoice count by month"


def same_named_content(api) -> dict[str, Any]:
    """Two cards named alike in one collection (display and description differ), one dashboard using the second
    one, and two dashboards named alike in that collection, each showing a different one of the two cards."""
    db = next(d for d in api.get("/api/database")["data"] if d["name"] == "Handmade Warehouse")["id"]
    coll = api.post("/api/collection", json={"name": "Billing"})["id"]
    ids: dict[str, Any] = {"collection": coll}
    for key, display, description, sql in (
            ("first", "table", "Invoices by issue date.", "select count(*) from orders"),
            ("second", "bar", "Invoices by due date.", "select count(*) from orders where total > 0")):
        ids[key] = api.post("/api/card", json={
            "name": NAME, "display": display, "description": description, "visualization_settings": {},
            "collection_id": coll, "dataset_query": {"database": db, "type": "native", "native": {"query": sql}}})["id"]
    for key, name, card, description in (("ops", "Ops board", "second", None),
                                         ("weekly-a", "Weekly", "first", "Issued."),
                                         ("weekly-b", "Weekly", "second", "Due.")):
        dash = ids[key] = api.post("/api/dashboard", json={"name": name, "collection_id": coll,
                                                           "description": description})["id"]
        api.put(f"/api/dashboard/{dash}", json={"dashcards": [
            {"id": -1, "card_id": ids[card], "row": 0, "col": 0, "size_x": 6, "size_y": 4}]})
    return ids


@pytest.fixture(scope="module")
def registry():
    from mbport.registry import load_plugins

    return load_plugins()


def importer_for(api, registry, tree, state_path, **options: Any) -> Importer:
    return Importer(api, registry, load_tree(tree, registry), State.load(state_path, api.url), options)


def imported(registry, tmp_path) -> tuple[Any, Any, Any, Any, Importer]:
    """(source client, target emulator, target client, tree, first import): the content above exported and
    imported into an empty instance, which made the later doc of each pair (in write order) first, so its ids say
    nothing about which object is which doc's."""
    source_emu, source = seeded_instance("handmade")
    same_named_content(source)
    source_emu.wait_idle()
    tree = tmp_path / "tree"
    run_export(source, registry, tree)
    target_emu, target = seeded_instance()
    docs = load_tree(tree, registry).docs
    later = [max(a for a, d in docs.items() if d.get("name") == name) for name in (NAME, "Weekly")]
    for select in ([later[0]], [later[1]], []):
        first = importer_for(target, registry, tree, tmp_path / "first.json", select=select)
        result = first.apply(first.plan())
        target_emu.wait_idle()
        assert result.failed == {}
    first = importer_for(target, registry, tree, tmp_path / "first.json")
    first.plan()
    return source, target_emu, target, tree, first


def test_same_named_objects_are_paired_with_their_own_without_a_state(registry, tmp_path):
    source, target_emu, target, tree, first = imported(registry, tmp_path)

    # A fresh state: every doc is found by entity_id or by name; the two cards (and the two dashboards) share one.
    fresh = importer_for(target, registry, tree, tmp_path / "fresh.json")
    plan = fresh.plan()
    assert plan.problems == []
    assert [c.line() for c in plan.changes if c.action != "noop"] == []
    assert plan.notes() == []
    assert fresh.ids == first.ids  # each doc is the object the first import made for it
    assert_settled(importer_for(target, registry, tree, tmp_path / "fresh.json"), target_emu)

    objects, _rows, _ = judged(source, target, dict(State.load(tmp_path / "fresh.json", target.url).ids),
                               queries=False)
    assert objects == []


def test_same_named_objects_neither_closer_to_one_are_paired_by_order_and_said(registry, tmp_path):
    _, _, target, tree, first = imported(registry, tmp_path)
    cards = sorted(a for a in first.ids if a.startswith("cards/") and first.tree.docs[a]["name"] == NAME)
    query = target.get(f"/api/card/{first.ids[cards[0]]}")["dataset_query"]
    for addr in cards:  # someone made both alike on the target: nothing tells which is which
        target.put(f"/api/card/{first.ids[addr]}", json={"description": "Edited.", "display": "line",
                                                         "dataset_query": query})

    plan = importer_for(target, registry, tree, tmp_path / "fresh.json").plan()
    notes = [n for n in plan.notes() if n.startswith("Paired by order")]
    assert len(notes) == 1 and all(a in notes[0] for a in cards), plan.notes()
