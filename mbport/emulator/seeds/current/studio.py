"""The Library and Data Studio (0.59+, Enterprise `library`): the Library with a Data sub-collection, a metric in
its Metrics collection, `orders` published into the sub-collection, and table owners, layers, sources and
authority set on the warehouse's tables, and a measure; the measure and the metric have been read, so they hold
their persisted dimensions (0.65: random UUID ids, one default); in the Library's Dashboards section (0.65) a folder
with a dashboard and its question (`coll:Library`, `coll:Library/Data`, `coll:Library/Metrics`,
`coll:Library/Dashboards`, `coll:Library/Dashboards/Weekly`, `coll:Curated`, `card:Revenue`, `measure:Order count`,
`dash:Weekly revenue`, `card:Weekly revenue by product`)."""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    library = ok(api.post("/api/ee/library"))
    ids["coll:Library"] = library["id"]
    for coll in ok(api.get("/api/collection")):
        if coll.get("type") in ("library-data", "library-metrics", "library-dashboards"):
            ids[f"coll:Library/{coll['name']}"] = coll["id"]
    ids["coll:Curated"] = ok(api.post("/api/collection", json={
        "name": "Curated", "description": "Tables the analysts vouch for", "parent_id": ids["coll:Library/Data"]}))["id"]
    metric = {"database": ids["db:warehouse"], "type": "query", "query": {
        "source-table": ids["t:orders"], "aggregation": [["sum", ["field", ids["f:orders.total"], None]]]}}
    ids["card:Revenue"] = ok(api.post("/api/card", json={
        "name": "Revenue", "type": "metric", "display": "scalar", "dataset_query": metric,
        "visualization_settings": {}, "collection_id": ids["coll:Library/Metrics"]}))["id"]
    ok(api.post("/api/ee/data-studio/table/publish-tables", json={
        "table_ids": [ids["t:orders"]], "collection_id": ids["coll:Curated"]}))
    ok(api.put(f"/api/table/{ids['t:orders']}", json={
        "owner_user_id": ids["user:rita"], "data_authority": "authoritative", "data_source": "source-data"}))
    ok(api.put(f"/api/table/{ids['t:products']}", json={"data_layer": "final", "owner_email": "catalog@example.com"}))
    ids["measure:Order count"] = ok(api.post("/api/measure", json={
        "name": "Order count", "table_id": ids["t:orders"], "definition": {"aggregation": [["count"]]}}))["id"]
    ok(api.get(f"/api/measure/{ids['measure:Order count']}"))  # the first reads seed the dimensions
    ok(api.get(f"/api/metric/{ids['card:Revenue']}"))
    # 0.65: the Library's Dashboards section holds a dashboard (in a folder of its own type) and its question
    ids["coll:Library/Dashboards/Weekly"] = ok(api.post("/api/collection", json={
        "name": "Weekly", "parent_id": ids["coll:Library/Dashboards"]}))["id"]
    ids["dash:Weekly revenue"] = ok(api.post("/api/dashboard", json={
        "name": "Weekly revenue", "collection_id": ids["coll:Library/Dashboards/Weekly"]}))["id"]
    ids["card:Weekly revenue by product"] = ok(api.post("/api/card", json={
        "name": "Weekly revenue by product", "display": "bar", "visualization_settings": {},
        "dashboard_id": ids["dash:Weekly revenue"], "dataset_query": {
            "database": ids["db:warehouse"], "type": "query", "query": {
                "source-table": ids["t:orders"], "aggregation": [["sum", ["field", ids["f:orders.total"], None]]],
                "breakout": [["field", ids["f:orders.product_id"], None]]}}}))["id"]
