"""What notification answers look like: the FullyHydratedNotification, and the legacy pulse-shaped alert view."""

from __future__ import annotations

import re
from typing import Any

from ..models.notifications import CARD, RECIPIENT_GROUP, RECIPIENT_RAW, RECIPIENT_USER
from ..store import Row, State
from .users import creator


def user_map(state: State, user_id: int | None) -> dict | None:
    return creator(state, user_id)



def _recipient_out(state: State, r: Row) -> dict:
    out = dict(r)
    if r["type"] == RECIPIENT_USER:
        out["user"] = user_map(state, r["user_id"])
    elif r["type"] == RECIPIENT_GROUP:
        group = state.table("permissions_group").get(r["permissions_group_id"])
        if group is not None:
            member_ids = [m["user_id"] for m in state.table("permissions_group_membership").where(group_id=group["id"])]
            out["permissions_group"] = {**group, "members": [user_map(state, uid) for uid in member_ids]}
    return out



def _handler_out(state: State, h: Row) -> dict:
    channel = state.table("channel").get(h["channel_id"]) if h["channel_id"] else None
    template = state.table("channel_template").get(h["template_id"]) if h["template_id"] else None
    recipients = state.table("notification_recipient").where(notification_handler_id=h["id"])
    return {**h, "channel": dict(channel) if channel and channel.get("active") else None,
            "template": dict(template) if template else None,
            "recipients": [_recipient_out(state, r) for r in recipients]}



def _payload_out(state: State, notification: Row) -> dict | None:
    if notification["payload_type"] != CARD:
        return None
    payload = state.table("notification_card").existing(notification["payload_id"])
    card = state.table("card").get(payload["card_id"])
    return {**payload, "card": dict(card) if card else None}



def hydrate_notification(state: State, notification: Row) -> dict:
    """The FullyHydratedNotification shape: row + creator, payload, subscriptions, handlers."""
    out = {k: v for k, v in notification.items() if k != "internal_id"}
    nid = notification["id"]
    out.update(
        creator=user_map(state, notification["creator_id"]),
        payload=_payload_out(state, notification),
        subscriptions=[dict(s) for s in state.table("notification_subscription").where(notification_id=nid)],
        handlers=[_handler_out(state, h) for h in state.table("notification_handler").where(notification_id=nid)],
    )
    return out


CRON_DAYS = {"1": "sun", "2": "mon", "3": "tue", "4": "wed", "5": "thu", "6": "fri", "7": "sat"}



def cron_to_schedule(cron: str) -> dict:
    """A Quartz cron string as the {schedule_type, schedule_hour, schedule_day, schedule_frame} map the UI uses."""
    parts = cron.split()
    hours, day_of_month, day_of_week = parts[2], parts[3], parts[5]
    first_digit = re.match(r"^(\d)", day_of_week)
    frame: str | None
    if re.fullmatch(r"\d#1", day_of_week) or day_of_month == "1":
        frame = "first"
    elif re.fullmatch(r"\dL", day_of_week) or day_of_month == "L":
        frame = "last"
    else:
        frame = "mid" if day_of_month == "15" else None
    if day_of_month != "*" and (day_of_week == "?" or re.fullmatch(r"\d(#1|L)", day_of_week)):
        schedule_type = "monthly"
    elif day_of_week != "?":
        schedule_type = "weekly"
    elif hours != "*":
        schedule_type = "daily"
    else:
        schedule_type = "hourly"
    return {"schedule_type": schedule_type, "schedule_hour": int(hours) if hours.isdigit() else None,
            "schedule_day": CRON_DAYS.get(first_digit.group(1)) if first_digit else None, "schedule_frame": frame}



def _channel(handler: dict, schedule: dict) -> dict:
    users = [{k: r["user"].get(k) for k in ("email", "last_name", "first_name", "id", "common_name")}
             for r in handler["recipients"] if r["type"] == RECIPIENT_USER and r.get("user")]
    raw = [r["details"] for r in handler["recipients"] if r["type"] == RECIPIENT_RAW]
    ctype = handler["channel_type"]
    if ctype == "channel/slack":
        details = {"channel": raw[0]["value"] if raw else None}
    elif ctype == "channel/email":
        details = {"emails": [d["value"] for d in raw]}
    else:
        details = {}
    return {**schedule, "id": handler["id"],
            "recipients": [{"email": d["value"]} for d in raw] + users if ctype == "channel/email" else [],
            "channel_type": ctype.split("/", 1)[1], "channel_id": handler["channel_id"],
            "enabled": handler["active"], "details": details}



def notification_to_alert(state: State, notification: dict) -> dict:
    """A hydrated card notification in the legacy pulse shape GET /api/alert answers with."""
    payload = notification["payload"] or {}
    card: dict[str, Any] = state.table("card").get(payload.get("card_id")) or {}
    subs = notification["subscriptions"]
    schedule = cron_to_schedule(subs[0]["cron_schedule"]) if subs and subs[0].get("cron_schedule") else {}
    return {
        **{k: notification[k] for k in ("id", "creator_id", "creator", "created_at", "updated_at")},
        "name": None,
        "alert_condition": "rows" if payload.get("send_condition") == "has_result" else "goal",
        "alert_above_goal": True if payload.get("send_condition") == "goal_above" else None,
        "alert_first_only": payload.get("send_once"),
        "archived": not notification["active"],
        "collection_position": None, "collection_id": None, "skip_if_empty": True, "parameters": [],
        "dashboard_id": None,
        "card": {**{k: card.get(k) for k in ("name", "description", "collection_id", "display")},
                 "format_rows": True, "include_xls": False, "include_csv": True, "pivot_results": False,
                 "dashboard_id": None, "dashboard_card_id": None, "parameter_mappings": None},
        "channels": [_channel(h, schedule) for h in notification["handlers"]],
    }
