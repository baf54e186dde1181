"""Notification channels: a webhook that an alert and a dashboard subscription send to, and a deactivated one
(Metabase renames it `DEACTIVATED_<id> <name>`). Neither has auth values: an import of this seed needs no secret
(tests add a webhook with header auth where they supply its secret)."""

from __future__ import annotations

from typing import Any

import httpx

from mbport.emulator.seeds import ok


def load(api: httpx.Client, ids: dict[str, Any]) -> None:
    """`channel:Ops webhook` used by an alert on `card:Orders by product` and a subscription of
    `dash:Sales`; `channel:Old hook`, deactivated."""
    ops = ok(api.post("/api/channel", json={
        "name": "Ops webhook", "type": "channel/http", "description": "Pages the on-call",
        "details": {"url": "https://hooks.example.com/ops", "auth-method": "none", "method": "post"}}))
    ids["channel:Ops webhook"] = ops["id"]
    old = ok(api.post("/api/channel", json={"name": "Old hook", "type": "channel/http",
                                            "details": {"url": "https://hooks.example.com/old", "auth-method": "none"}}))
    ok(api.put(f"/api/channel/{old['id']}", json={"active": False}))
    ids["channel:Old hook"] = old["id"]
    ok(api.post("/api/notification", json={
        "payload_type": "notification/card", "payload": {"card_id": ids["card:Orders by product"]},
        "subscriptions": [{"type": "notification-subscription/cron", "cron_schedule": "0 0 9 * * ? *"}],
        "handlers": [{"channel_type": "channel/http", "channel_id": ops["id"], "recipients": []},
                     {"channel_type": "channel/email",
                      "recipients": [{"type": "notification-recipient/user", "user_id": ids["user:rita"]}]}]}))
    dashcard = ok(api.get(f"/api/dashboard/{ids['dash:Sales']}"))["dashcards"][0]
    ok(api.post("/api/pulse", json={
        "name": "Sales to ops", "dashboard_id": ids["dash:Sales"],
        "cards": [{"id": dashcard["card_id"], "include_csv": False, "include_xls": False,
                   "dashboard_card_id": dashcard["id"]}],
        "channels": [{"channel_type": "http", "channel_id": ops["id"], "enabled": True, "schedule_type": "daily",
                      "schedule_hour": 8, "recipients": []}]}))
