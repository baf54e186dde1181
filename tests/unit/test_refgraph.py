"""The reference graph's edge rules (mbport/refgraph.py) on a small tree: which writes wait for which, and why."""

from __future__ import annotations

import pytest

from mbport.refgraph import Dangling, build
from mbport.registry import load_plugins

DB, TABLE, FIELD = "databases/Shop", "tables/Shop/public/orders", "fields/Shop/public/orders/total"
COLLECTION, CARD = "collections/CollSales000000000001", "cards/CardQuestion0000000001"
DASHBOARD, OTHER_DASHBOARD = "dashboards/DashOps0000000000001", "dashboards/DashOther000000000001"
GRANTS = "collection-permissions/"  # the default namespace's graph


def ref(addr):
    return {"$ref": addr}


DOCS = [
    ("databases", {"name": "Shop", "engine": "postgres"}),
    ("tables", {"database": ref(DB), "schema": "public", "name": "orders", "fields": [{"name": "total"}]}),
    ("collections", {"entity_id": "CollSales000000000001", "name": "Sales"}),
    ("cards", {"entity_id": "CardQuestion0000000001", "name": "Totals", "type": "question",
               "collection": ref(COLLECTION),
               "dataset_query": {"database": ref(DB), "type": "query",
                                 "query": {"source-table": ref(TABLE), "fields": [["field", ref(FIELD), None]]}}}),
    ("dashboards", {"entity_id": "DashOps0000000000001", "name": "Ops", "collection": ref(COLLECTION),
                    "dashcards": [{"entity_id": "DashcardOne0000000001", "card": ref(CARD), "row": 0, "col": 0,
                                   "visualization_settings": {"click_behavior": {
                                       "type": "link", "linkType": "dashboard",
                                       "targetId": ref(OTHER_DASHBOARD)}}}]}),
    ("dashboards", {"entity_id": "DashOther000000000001", "name": "Other", "dashcards": [
        {"entity_id": "DashcardTwo0000000001", "row": 0, "col": 0, "visualization_settings": {"click_behavior": {
            "type": "link", "linkType": "dashboard", "targetId": ref(DASHBOARD)}}}]}),
    ("collection-permissions", {"namespace": None, "grants": []}),
]


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


@pytest.fixture(scope="module")
def docs(registry):
    return {registry[kind].address_of(doc): doc for kind, doc in DOCS}


def test_each_edge_says_which_rule_made_it(registry, docs):
    assert set(docs) >= {DB, TABLE, COLLECTION, CARD, DASHBOARD, OTHER_DASHBOARD}
    grants = next(a for a in docs if a.startswith(GRANTS))
    order = build(registry, docs).order
    why = {(a, b): data["why"] for a, b, data in order.edges(data=True)}
    assert why[(DASHBOARD, "shell"), (DASHBOARD, "layout")] == "stage"
    assert why[(COLLECTION, "main"), (DASHBOARD, "shell")] == "ref"  # the shell needs only its collection
    assert why[(CARD, "main"), (DASHBOARD, "layout")] == "ref"  # the layout, its cards
    assert why[(TABLE, "main"), (CARD, "main")] == "ref"  # a field ref waits for the table that holds the field
    assert why[(COLLECTION, "archive"), (grants, "main")] == "import_after"  # every collection, written through
    # Click behaviours point both ways between the two dashboards: filled in by the second pass, so no order edge.
    assert not any(a[0] in (DASHBOARD, OTHER_DASHBOARD) and b[0] in (DASHBOARD, OTHER_DASHBOARD) and a[0] != b[0]
                   for a, b in order.edges)


def test_deferred_refs_are_uses_without_order_and_make_no_cycle(registry, docs):
    graph = build(registry, docs)
    assert graph.cycles == []
    assert graph.uses.edges[DASHBOARD, OTHER_DASHBOARD]["deferred"] is True
    assert graph.uses.edges[OTHER_DASHBOARD, DASHBOARD]["deferred"] is True
    assert graph.uses.edges[DASHBOARD, CARD]["deferred"] is False
    assert graph.uses.has_edge(CARD, TABLE) and not graph.uses.has_edge(CARD, FIELD)  # sub-objects: their owner


def test_a_dangling_ref_is_reported_and_makes_no_edge(registry, docs):
    missing_field = "fields/Shop/public/orders/nope"
    card = {**docs[CARD], "dataset_query": {"database": ref(DB), "type": "query", "query": {
        "fields": [["field", ref(missing_field), None]]}}}  # its only ref into the table
    graph = build(registry, {**docs, CARD: card})
    assert graph.dangling == [Dangling(CARD, missing_field, "not in the tree")]
    assert (TABLE, "main") not in graph.order.predecessors((CARD, "main"))
    assert not graph.uses.has_edge(CARD, TABLE)
    assert graph.dangling[0].problem({CARD: "cards/sales/totals.json"}) == (
        f"cards/sales/totals.json: ref to {missing_field}, which is not in the tree")


def test_a_deferred_ref_to_a_deleted_object_is_a_dead_link_a_hard_one_dangles(registry, docs):
    """A click behaviour to a dashboard deleted on the source orders nothing and leaves its dashboard whole: a dead
    link (a warning, written null), not a dangling ref; the same dead target as a dashcard's card stays one."""
    gone, gone_card = "dashboards/missing-id-7", "cards/missing-id-8"
    other = docs[OTHER_DASHBOARD]
    dead = {**other, "dashcards": [{**other["dashcards"][0], "visualization_settings": {"click_behavior": {
        "type": "link", "linkType": "dashboard", "targetId": ref(gone)}}}]}
    graph = build(registry, {**docs, OTHER_DASHBOARD: dead})
    assert graph.dangling == [] and graph.dead_links == [Dangling(OTHER_DASHBOARD, gone, "not in the tree")]
    assert graph.dead_links[0].warning({OTHER_DASHBOARD: "dashboards/other.json"}, "Other") == (
        "dashboard 'Other' (dashboards/other.json) links to dashboards id 7, which was deleted on the source: the "
        "link is written empty, as Metabase shows a link to a deleted object")
    hard = {**dead, "dashcards": [{**dead["dashcards"][0], "card": ref(gone_card)}]}
    graph = build(registry, {**docs, OTHER_DASHBOARD: hard})
    assert graph.dangling == [Dangling(OTHER_DASHBOARD, gone_card, "not in the tree")]
