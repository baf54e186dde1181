"""Handmade part: model actions on the handmade warehouse, and personal collections with content.

Cases: a model on `orders` with a query action and an implicit action (its database must have
`database-enable-actions`, which needs the driver's actions feature: the emulator's sqlite_actions switch, which
the handmade seed declares); Rita's and Tom's personal collections, each with a question and a sub-collection
holding another (backups and migrations carry them; an import matches a personal collection by its owner).
"""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    _actions(api, ids)
    _personal(api, ids)


def _query(ids: dict[str, Any], table: str, **more: Any) -> dict[str, Any]:
    return {"database": ids["db:warehouse"], "type": "query", "query": {"source-table": ids[f"t:{table}"], **more}}


def _actions(api: httpx.Client, ids: dict[str, Any]) -> None:
    db = ids["db:warehouse"]
    ok(api.put(f"/api/database/{db}", json={"settings": {"database-enable-actions": True}}))
    ids["card:orders_model"] = ok(api.post("/api/card", json={
        "name": "Orders to fix", "type": "model", "display": "table", "visualization_settings": {},
        "dataset_query": _query(ids, "orders")}))["id"]
    ids["action:void"] = ok(api.post("/api/action", json={
        "name": "Void an order", "type": "query", "model_id": ids["card:orders_model"], "database_id": db,
        "dataset_query": {"database": db, "type": "native",
                          "native": {"query": "UPDATE orders SET total = 0 WHERE id = {{order}}",
                                     "template-tags": {"order": {"id": "6a0c3a58-0d65-4c64-a2d9-0b7f6f7f3b11",
                                                                 "name": "order", "display-name": "Order",
                                                                 "type": "number", "required": True}}}},
        "parameters": [{"id": "order", "slug": "order", "type": "number/=",
                        "target": ["variable", ["template-tag", "order"]]}],
        "visualization_settings": {"confirmMessage": "Void it?"}}))["id"]
    ids["action:edit"] = ok(api.post("/api/action", json={
        "name": "Edit an order", "type": "implicit", "kind": "row/update", "model_id": ids["card:orders_model"]}))["id"]


def _personal(api: httpx.Client, ids: dict[str, Any]) -> None:
    # Metabase makes personal collections itself; an admin finds the others' through the collection list.
    homes = {c["personal_owner_id"]: c["id"] for c in ok(api.get("/api/collection", params={"personal-only": "true"}))
             if c.get("personal_owner_id")}
    for user in ("rita", "tom"):
        home = homes[ids[f"user:{user}"]]
        ids[f"c:personal:{user}"] = home
        sub = ok(api.post("/api/collection", json={"name": f"{user.title()}'s drafts", "parent_id": home}))["id"]
        ids[f"c:drafts:{user}"] = sub
        ids[f"card:personal:{user}"] = ok(api.post("/api/card", json={
            "name": f"{user.title()}'s big customers", "display": "table", "visualization_settings": {},
            "collection_id": home, "dataset_query": _query(ids, "customers")}))["id"]
        ids[f"card:drafts:{user}"] = ok(api.post("/api/card", json={
            "name": f"{user.title()}'s order count", "display": "scalar", "visualization_settings": {},
            "collection_id": sub, "dataset_query": _query(ids, "orders", aggregation=[["count"]])}))["id"]
