"""Content verification (`content_verification`): a verified question (with a note), a verified dashboard, and a
question verified and then edited, whose query change took the verification away (only verified-now is content)."""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok


def _review(api: httpx.Client, item_type: str, item_id: int, text: str | None = None) -> None:
    ok(api.post("/api/moderation-review", json={"moderated_item_type": item_type, "moderated_item_id": item_id,
                                                "status": "verified", "text": text}))


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    """`Orders by product` is verified with a note and `Sales` without one; `Large orders` (`coll:Team`) was
    verified, then its threshold changed, which Metabase answers with an "Unverified due to edit" review."""
    _review(api, "card", ids["card:Orders by product"], "Checked against the finance report")
    _review(api, "dashboard", ids["dash:Sales"])
    native = {"database": ids["db:warehouse"], "type": "native",
              "native": {"query": "SELECT * FROM orders WHERE total > 500"}}
    card = ok(api.post("/api/card", json={"name": "Large orders", "display": "table", "dataset_query": native,
                                          "visualization_settings": {}, "collection_id": ids["coll:Team"]}))
    ids["card:Large orders"] = card["id"]
    _review(api, "card", card["id"], "Threshold agreed with sales")
    changed = {**native, "native": {"query": "SELECT * FROM orders WHERE total > 250"}}
    ok(api.put(f"/api/card/{card['id']}", json={"dataset_query": changed}))
