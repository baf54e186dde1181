"""Transforms: folders (collections in the `transforms` namespace), tags, a job, an MBQL, a native (reading a card)
and a Python transform writing tables into the warehouse, a disabled job, and the Python library they import.

Transforms are turned on first (`transforms-enabled`, as an admin does in Data Studio; 0.64+ refuses them until
then). Ids: `tcoll:<name>`, `ttag:<name>` (custom tags; the built-in `hourly` ... `monthly` are the instance's
own), `transform:<name>`, `tjob:<name>`.
"""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok

LIBRARY = "import math\n\n\ndef score(total):\n    return round(math.log1p(total), 2)\n"
PYTHON_BODY = ("import common\n\n\ndef transform(customers, orders):\n"
               "    totals = orders.groupby('customer_id')['total'].sum().map(common.score)\n"
               "    return customers.assign(score=customers['id'].map(totals))\n")


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    db = ids["db:warehouse"]
    ok(api.put("/api/setting/transforms-enabled", json={"value": True}))
    pipelines = ok(api.post("/api/collection", json={"name": "Pipelines", "namespace": "transforms"}))
    ids["tcoll:Pipelines"] = pipelines["id"]
    ids["tcoll:Staging"] = ok(api.post("/api/collection", json={"name": "Staging", "parent_id": pipelines["id"],
                                                                "namespace": "transforms"}))["id"]
    tags = {t["name"]: t["id"] for t in ok(api.get("/api/transform-tag"))}
    for name in ("finance", "nightly"):
        ids[f"ttag:{name}"] = ok(api.post("/api/transform-tag", json={"name": name}))["id"]
    mbql = {"database": db, "type": "query", "query": {
        "source-table": ids["t:orders"], "aggregation": [["count"], ["sum", ["field", ids["f:orders.total"], None]]],
        "breakout": [["field", ids["f:orders.product_id"], None]],
        "filter": [">", ["field", ids["f:orders.total"], None], 10]}}
    ids["transform:Orders per product"] = ok(api.post("/api/transform", json={
        "name": "Orders per product", "description": "Order count and revenue per product",
        "source": {"type": "query", "query": mbql},
        "target": {"type": "table", "name": "orders_per_product", "database": db},
        "collection_id": pipelines["id"], "tag_ids": [ids["ttag:finance"], tags["daily"]],
        "owner_user_id": ids["user:rita"]}))["id"]
    card = ids["card:Big orders"]
    tag = f"#{card}-big-orders"
    native = {"database": db, "type": "native", "native": {
        "query": f"SELECT b.* FROM {{{{{tag}}}}} AS b WHERE b.total > 500",
        "template-tags": {tag: {"id": "5f0b7b4e-0c5e-4f0a-9a55-7d3e1c2b9a01", "name": tag,
                                "display-name": "Big orders", "type": "card", "card-id": card}}}}
    ids["transform:Very big orders"] = ok(api.post("/api/transform", json={
        "name": "Very big orders", "source": {"type": "query", "query": native},
        "target": {"type": "table", "name": "very_big_orders"}, "run_trigger": "global-schedule",
        "collection_id": ids["tcoll:Staging"], "tag_ids": [ids["ttag:nightly"]],
        "owner_email": "data-team@example.com"}))["id"]
    ids["transform:Customer scores"] = ok(api.post("/api/transform", json={
        "name": "Customer scores", "description": "A score per customer from their order totals",
        "source": {"type": "python", "source-database": db, "body": PYTHON_BODY,
                   "source-tables": {"customers": ids["t:customers"], "orders": ids["t:orders"]}},
        "target": {"type": "table", "name": "customer_scores", "database": db},
        "collection_id": pipelines["id"], "tag_ids": [ids["ttag:nightly"], ids["ttag:finance"]]}))["id"]
    ids["tjob:Nightly finance"] = ok(api.post("/api/transform-job", json={
        "name": "Nightly finance", "description": "Rebuilds the finance tables every night",
        "schedule": "0 30 2 * * ? *", "ui_display_type": "cron/builder",
        "tag_ids": [ids["ttag:nightly"], ids["ttag:finance"]]}))["id"]
    ids["tjob:Weekly archive"] = ok(api.post("/api/transform-job", json={
        "name": "Weekly archive", "schedule": "0 0 4 ? * 1 *", "tag_ids": [ids["ttag:finance"]]}))["id"]
    ok(api.put(f"/api/transform-job/{ids['tjob:Weekly archive']}", json={"active": False}))  # Data Studio's Disable
    ok(api.put("/api/ee/transforms-python/library/common", json={"source": LIBRARY}))
