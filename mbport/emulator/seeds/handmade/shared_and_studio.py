"""Handmade part: shared content on a personal question, and Data Studio table settings.

Cases: a `Team board` dashboard in a shared `Team` collection showing Rita's question kept in her drafts (a
sub-collection of her personal collection), which an export without --include-personal takes along with the two
collections it sits in; from 0.59 on, the `customers` table owned by Rita with its source named, and `products`
a final layer: Data Studio settings an older target has no room for, which --skip-unsupported leaves out of the
tables alone (records `c:team`, `dash:team_board`).
"""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok, server_version

DATA_STUDIO_SINCE = (59, 0)  # server_version's (minor, patch): table owners, layers and sources from 0.59 on


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    ids["c:team"] = ok(api.post("/api/collection", json={"name": "Team"}))["id"]
    dash = ok(api.post("/api/dashboard", json={"name": "Team board", "collection_id": ids["c:team"]}))
    ids["dash:team_board"] = dash["id"]
    ok(api.put(f"/api/dashboard/{dash['id']}", json={"dashcards": [
        {"id": -1, "card_id": ids["card:drafts:rita"], "row": 0, "col": 0, "size_x": 6, "size_y": 4}]}))
    if server_version(api) >= DATA_STUDIO_SINCE:
        ok(api.put(f"/api/table/{ids['t:customers']}", json={
            "owner_user_id": ids["user:rita"], "data_source": "source-data"}))
        ok(api.put(f"/api/table/{ids['t:products']}", json={"data_layer": "final"}))
