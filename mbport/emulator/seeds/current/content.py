"""The content the newer kinds refer to: a collection tree, an MBQL question, a native question, a dashboard and a
measure (a kind older releases lack, so a move to them has something to refuse from the start)."""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    """Collections `coll:Analytics` > `coll:Team`, cards `card:Orders by product` (MBQL) and `card:Big orders`
    (native), dashboard `dash:Sales` showing both, measure `measure:Revenue`."""
    db = ids["db:warehouse"]
    ids["measure:Revenue"] = ok(api.post("/api/measure", json={
        "name": "Revenue", "table_id": ids["t:orders"],
        "definition": {"source-table": ids["t:orders"], "aggregation": [["sum", ["field", ids["f:orders.total"], None]]]},
    }))["id"]
    ids["coll:Analytics"] = ok(api.post("/api/collection", json={"name": "Analytics"}))["id"]
    ids["coll:Team"] = ok(api.post("/api/collection", json={"name": "Team", "parent_id": ids["coll:Analytics"]}))["id"]
    mbql = {"database": db, "type": "query", "query": {
        "source-table": ids["t:orders"], "aggregation": [["count"]],
        "breakout": [["field", ids["f:orders.product_id"], None]]}}
    ids["card:Orders by product"] = ok(api.post("/api/card", json={
        "name": "Orders by product", "display": "bar", "dataset_query": mbql, "visualization_settings": {},
        "collection_id": ids["coll:Analytics"]}))["id"]
    native = {"database": db, "type": "native", "native": {"query": "SELECT * FROM orders WHERE total > 100"}}
    ids["card:Big orders"] = ok(api.post("/api/card", json={
        "name": "Big orders", "display": "table", "dataset_query": native, "visualization_settings": {},
        "collection_id": ids["coll:Team"]}))["id"]
    dash = ok(api.post("/api/dashboard", json={"name": "Sales", "collection_id": ids["coll:Analytics"]}))
    ids["dash:Sales"] = dash["id"]
    ok(api.put(f"/api/dashboard/{dash['id']}", json={"dashcards": [
        {"id": -1, "card_id": ids["card:Orders by product"], "row": 0, "col": 0, "size_x": 12, "size_y": 6},
        {"id": -2, "card_id": ids["card:Big orders"], "row": 0, "col": 12, "size_x": 12, "size_y": 6}]}))
