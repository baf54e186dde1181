"""Alerts: the read-only, legacy pulse-shaped view of card notifications (/api/alert, since 0.54)."""

from __future__ import annotations

import re

from .. import errors
from ..app import NO_CONTENT, Ctx
from ..router import route
from . import notifications as notif

CRON_DAYS = {"1": "sun", "2": "mon", "3": "tue", "4": "wed", "5": "thu", "6": "fri", "7": "sat"}


def cron_to_schedule(cron: str) -> dict:
    """A Quartz cron string as the {schedule_type, schedule_hour, schedule_day, schedule_frame} map the UI uses."""
    parts = cron.split()
    hours, day_of_month, day_of_week = parts[2], parts[3], parts[5]
    first_digit = re.match(r"^(\d)", day_of_week)
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
             for r in handler["recipients"] if r["type"] == notif.RECIPIENT_USER and r.get("user")]
    raw = [r["details"] for r in handler["recipients"] if r["type"] == notif.RECIPIENT_RAW]
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


def notification_to_alert(ctx: Ctx, notification: dict) -> dict:
    payload = notification["payload"] or {}
    card = ctx.state.table("card").get(payload.get("card_id")) or {}
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


@route("GET", "/api/alert")
def list_alerts(ctx: Ctx):
    # `user_id` only narrows the list for admins; everyone else always gets their own alerts.
    user_id = ctx.query.get("user_id") if ctx.is_superuser else ctx.user["id"]
    found = notif.find_notifications(ctx, payload_type=notif.CARD, creator_or_recipient_id=user_id,
                                     active=not ctx.query.get("archived"))
    return [notification_to_alert(ctx, n) for n in found]


@route("GET", "/api/alert/{id}")
def get_alert(ctx: Ctx, id: int):
    notification = notif.get_notification_row(ctx.state, id)
    if not notif.can_read(ctx, notification):
        raise errors.forbidden()
    return notification_to_alert(ctx, notif.hydrate_notification(ctx.state, notification))


@route("DELETE", "/api/alert/{id}/subscription")
def unsubscribe(ctx: Ctx, id: int):
    notif.unsubscribe_user(ctx, id)
    return NO_CONTENT
