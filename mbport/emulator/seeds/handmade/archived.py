"""Archived content, built the way people archive it, so the server holds what its cascades leave.

Cases: a collection tree archived at its top ("Old Campaigns" > "2024 Wave": a card in each, a dashboard with a
subscription, archived with it; its timeline and events archived by the cascade); a card and a dashboard archived on
their own from a live collection ("Live Reports"); a card archived on its own whose collection ("Seasonal") was later
archived and restored (it stays in the Trash); alerts on archived content: a paused one on the card archived on its
own, an active one on the card in the sub-collection (only alerts of cards directly in the archived collection are
deleted), an active one made after its card was archived; the subscription of the dashboard in the archived tree
and the active alert on the card directly in it are gone, as on a real server, while one made after the archive
stays; a card and a timeline restored in place while their collection stays in the Trash; a snippet folder
archived with its snippet.
"""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok, server_version

CRON_MONDAY_9 = "0 0 9 ? * 2 *"


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    """Content first, then the archives, in the order a person would have done them."""
    db = ids["db:warehouse"]

    def collection(key: str, name: str, **body: Any) -> int:
        ids[key] = ok(api.post("/api/collection", json={"name": name, **body}))["id"]
        return ids[key]

    def card(key: str, name: str, collection_id: int, sql: str, display: str = "table") -> int:
        ids[key] = ok(api.post("/api/card", json={
            "name": name, "display": display, "visualization_settings": {}, "collection_id": collection_id,
            "dataset_query": {"database": db, "type": "native", "native": {"query": sql}}}))["id"]
        return ids[key]

    pulse_alerts = server_version(api) < (54, 0)

    def alert(key: str, card_id: int, active: bool = True) -> None:
        if pulse_alerts:  # before 0.54: the same alert on /api/alert (paused = archived)
            ids[key] = ok(api.post("/api/alert", json={
                "alert_condition": "rows", "alert_first_only": False,
                "card": {"id": card_id, "include_csv": False, "include_xls": False},
                "channels": [{"channel_type": "email", "enabled": True, "schedule_type": "weekly", "schedule_day": "mon",
                              "schedule_hour": 9, "recipients": [{"id": ids["user:rita"]}]}]}))["id"]
            if not active:
                ok(api.put(f"/api/alert/{ids[key]}", json={"archived": True}))
            return
        ids[key] = ok(api.post("/api/notification", json={
            "payload_type": "notification/card", "payload": {"card_id": card_id, "send_condition": "has_result"},
            "active": active,
            "subscriptions": [{"type": "notification-subscription/cron", "cron_schedule": CRON_MONDAY_9}],
            "handlers": [{"channel_type": "channel/email", "recipients": [
                {"type": "notification-recipient/user", "user_id": ids["user:rita"]}]}]}))["id"]

    def put(path: str, **body: Any) -> dict[str, Any]:
        return ok(api.put(path, json=body))

    old = collection("coll:Old Campaigns", "Old Campaigns", description="Campaigns we no longer run.")
    wave = collection("coll:2024 Wave", "2024 Wave", parent_id=old)
    card("card:Campaign reach", "Campaign reach", old, "select count(*) as customers from customers")
    card("card:Wave orders", "Wave orders", wave, "select id, total from orders where total > 50")
    dash = ids["dash:Campaign board"] = ok(api.post("/api/dashboard", json={
        "name": "Campaign board", "collection_id": old}))["id"]
    layout = put(f"/api/dashboard/{dash}", dashcards=[
        {"id": -1, "card_id": ids["card:Campaign reach"], "row": 0, "col": 0, "size_x": 6, "size_y": 4},
        {"id": -2, "card_id": ids["card:Wave orders"], "row": 0, "col": 6, "size_x": 12, "size_y": 6}])
    dashcards = sorted(layout["dashcards"], key=lambda dc: dc["col"])
    ok(api.post("/api/pulse", json={
        "name": "Campaign board weekly", "dashboard_id": dash,
        "cards": [{"id": dc["card_id"], "include_csv": False, "include_xls": False, "dashboard_card_id": dc["id"]}
                  for dc in dashcards],
        "channels": [{"channel_type": "email", "enabled": True, "schedule_type": "weekly", "schedule_day": "mon",
                      "schedule_hour": 9, "recipients": [{"id": ids["user:tom"]}]}]}))
    timeline = ids["timeline:Campaign launches"] = ok(api.post("/api/timeline", json={
        "name": "Campaign launches", "collection_id": old, "icon": "star"}))["id"]
    for name, when in (("Spring launch", "2024-03-01T00:00:00Z"), ("Autumn launch", "2024-09-01T00:00:00Z")):
        ok(api.post("/api/timeline-event", json={"name": name, "timeline_id": timeline, "timestamp": when,
                                                 "timezone": "UTC", "time_matters": False, "icon": "star"}))
    ids["timeline:Open questions"] = ok(api.post("/api/timeline", json={
        "name": "Open questions", "collection_id": old, "icon": "warning"}))["id"]
    card("card:Evergreen list", "Evergreen list", old, "select name, price from products")
    alert("alert:Campaign reach", ids["card:Campaign reach"])  # deleted when Old Campaigns is archived
    alert("alert:Wave orders", ids["card:Wave orders"])  # kept: its card is in a sub-collection

    live = collection("coll:Live Reports", "Live Reports")
    card("card:Retired margin", "Retired margin", live, "select sum(total) as revenue from orders", display="scalar")
    card("card:Daily orders", "Daily orders", live, "select count(*) as orders from orders", display="scalar")
    alert("alert:Retired margin", ids["card:Retired margin"], active=False)  # paused: survives the archive
    ids["dash:Retired overview"] = ok(api.post("/api/dashboard", json={
        "name": "Retired overview", "collection_id": live}))["id"]

    seasonal = collection("coll:Seasonal", "Seasonal")
    card("card:Winter promo", "Winter promo", seasonal, "select name from products where price < 10")

    folder = collection("coll:Old snippets", "Old snippets", namespace="snippets")
    ids["snippet:Old discount rule"] = ok(api.post("/api/native-query-snippet", json={
        "name": "Old discount rule", "content": "total > 500", "collection_id": folder}))["id"]

    # The archives. On its own first, then the top of the tree, then the restored collection.
    put(f"/api/card/{ids['card:Retired margin']}", archived=True)
    put(f"/api/dashboard/{ids['dash:Retired overview']}", archived=True)
    put(f"/api/card/{ids['card:Winter promo']}", archived=True)
    put(f"/api/collection/{old}", archived=True)
    put(f"/api/collection/{seasonal}", archived=True)
    put(f"/api/collection/{seasonal}", archived=False)
    put(f"/api/collection/{folder}", archived=True)
    # After the archives: alerts on archived cards (Metabase takes them), and things restored in place, which
    # Metabase allows while their collection stays in the Trash.
    alert("alert:Retired margin, after", ids["card:Retired margin"])
    alert("alert:Campaign reach, after", ids["card:Campaign reach"])
    put(f"/api/timeline/{ids['timeline:Open questions']}", archived=False)
    put(f"/api/card/{ids['card:Evergreen list']}", archived=False)
