"""Documents: a live one with two cards of its own (one drafted with it, one copied from a saved question), smart
links to a card, a dashboard, a table, a user and the other document; and one in the Trash with a card of its own."""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok


def _embed(card_id: int) -> dict[str, Any]:
    return {"type": "resizeNode", "attrs": {"height": 442, "minHeight": 280},
            "content": [{"type": "cardEmbed", "attrs": {"id": card_id, "name": None}}]}


def _link(model: str, entity_id: int, label: str) -> dict[str, Any]:
    return {"type": "smartLink", "attrs": {"entityId": entity_id, "model": model, "label": label, "href": "/"}}


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    """`doc:Quarterly review` in `coll:Analytics`; `doc:Old notes` in `coll:Team`, archived on its own."""
    db = ids["db:warehouse"]
    draft = {"name": "Orders per customer", "display": "bar", "visualization_settings": {},
             "dataset_query": {"database": db, "type": "query", "query": {
                 "source-table": ids["t:orders"], "aggregation": [["count"]],
                 "breakout": [["field", ids["f:orders.customer_id"], None]]}}}
    old = ok(api.post("/api/document", json={
        "name": "Old notes", "collection_id": ids["coll:Team"],
        "document": {"type": "doc", "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Superseded."}]}, _embed(-1)]},
        "cards": {"-1": {**draft, "name": "Old orders per customer"}}}))
    ids["doc:Old notes"] = old["id"]
    body = {"type": "doc", "content": [
        {"type": "heading", "attrs": {"level": 1, "_id": "h1"}, "content": [{"type": "text", "text": "Quarterly"}]},
        {"type": "paragraph", "content": [
            {"type": "text", "text": "See "}, _link("card", ids["card:Orders by product"], "Orders by product"),
            {"type": "text", "text": " on "}, _link("dashboard", ids["dash:Sales"], "Sales"),
            {"type": "text", "text": ", the "}, _link("table", ids["t:orders"], "Orders"),
            {"type": "text", "text": " table, ask "}, _link("user", ids["user:rita"], "Rita"),
            {"type": "text", "text": ", and "}, _link("document", old["id"], "Old notes"),
            {"type": "text", "text": ".", "marks": [{"type": "bold"}]}]},
        _embed(-1),
        _embed(ids["card:Big orders"]),  # a saved question: the server embeds a copy that belongs to the document
    ]}
    doc = ok(api.post("/api/document", json={"name": "Quarterly review", "collection_id": ids["coll:Analytics"],
                                             "document": body, "cards": {"-1": draft}}))
    ids["doc:Quarterly review"] = doc["id"]
    ok(api.put(f"/api/document/{old['id']}", json={"archived": True}))
