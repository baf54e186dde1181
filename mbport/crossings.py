"""Version crossings several kinds share: what a Metabase release line changes in the queries a kind writes and reads
(versions.md §2), so that a tree exported on one release imports into another. Plugins reach it through mbport.api.

- MBQL 5 (0.57+) against MBQL 4 (before): a target older than 0.57 takes MBQL 4, and a tree exported in MBQL 4 is
  written in MBQL 4 with classic dimension refs (0.61 stores a classic query carrying MBQL 5 refs as an empty one, 0.62
  refuses it) and compared with the target's query read in MBQL 4.
- Native template tags: a list from 0.63 on, a map keyed by name before; the tree always holds the map.
- Alerts: card notifications (`/api/notification`) from 0.54 on, the pulse-shaped `/api/alert` before. A listed
  pre-0.54 alert is read as the notification Metabase's 0.54 migration makes of it, so one field spec exports both
  eras; a notification body goes back to the pulse shape for an older target, which cannot hold everything.
"""

from __future__ import annotations

from typing import Any

import orjson

from .errors import MbportError
from .kindutil import mbql4_query
from .mbql import is_legacy as is_mbql4
from .mbql import is_mbql5
from .plugin_helpers.schedules import cron_to_schedule, schedule_to_cron

NOTIFICATIONS_SINCE = (0, 54)  # alerts are card notifications from here on; older servers keep pulse-shaped alerts
MBQL5_SINCE = (0, 57)  # queries stored (and answered) as MBQL 5 from here on; older servers take MBQL 4
TEMPLATE_TAG_LISTS_SINCE = (0, 63)  # native template tags come (and must be sent) as a list from here on

__all__ = ["MBQL5_SINCE", "NOTIFICATIONS_SINCE", "TEMPLATE_TAG_LISTS_SINCE", "alert_problems", "check_stored_query",
           "is_mbql4", "is_mbql5", "notification_of_alert", "pulse_alert_body", "query_for_target",
           "query_in_tree_dialect", "stored_query", "template_tags_as"]


def template_tags_as(query: Any, as_list: bool) -> Any:
    """MBQL 5 native stages with `template-tags` in the target's shape: a list (>= 0.63) or a map keyed by name.

    The tree always holds the map. MBQL 4 (`{type: native, native: {...}}`) has only ever used the map.
    """
    if not isinstance(query, dict) or not isinstance(query.get("stages"), list):
        return query
    stages = []
    for stage in query["stages"]:
        tags = stage.get("template-tags") if isinstance(stage, dict) else None
        if isinstance(tags, dict) and as_list:
            stage = {**stage, "template-tags": [{**tag, "name": name} for name, tag in tags.items()]}
        elif isinstance(tags, list) and not as_list:
            stage = {**stage, "template-tags": {t["name"]: t for t in tags if isinstance(t, dict) and "name" in t}}
        stages.append(stage)
    return {**query, "stages": stages}


def query_for_target(api: Any, query: Any) -> Any:
    """A query with its template tags in the shape the target's version writes."""
    return template_tags_as(query, api.version >= TEMPLATE_TAG_LISTS_SINCE)


def stored_query(api: Any, query: Any) -> Any:
    """A saved query (a card's `dataset_query`) in the form the target's version stores: MBQL 4 for a target older
    than 0.57 (an MBQL 5 native stage rebuilt as `{type: native, native: {query, template-tags}}`) and for a tree
    query in MBQL 4 (its dimension tags' refs in classic form); otherwise its template tags in the target's shape."""
    if api.version < MBQL5_SINCE or is_mbql4(query):
        return mbql4_query(query) if query else query
    return query_for_target(api, query)


def check_stored_query(raw: dict[str, Any], payload: dict[str, Any], addr: str) -> dict[str, Any]:
    """0.61 answers 200 to a query it cannot read and stores an empty one (versions.md): never accept that."""
    sent, stored = payload.get("dataset_query"), raw.get("dataset_query")
    if sent and not stored:
        raise MbportError(f"{addr}: the target stored an empty query for this card",
                          hint="the query mixes MBQL 4 and MBQL 5 forms; re-export the source on one version")
    return raw


def query_in_tree_dialect(api: Any, endpoint: str, raw: dict[str, Any], tree_query: Any) -> dict[str, Any]:
    """A target raw object whose `dataset_query` is read in MBQL 4 when the tree's query is MBQL 4 and the target's
    MBQL 5 (a tree exported on <= 0.56 against a >= 0.57 target), else plan would show an update forever. The list
    row's `legacy_query` (0.57-0.61) costs nothing; otherwise one `GET endpoint/:id?legacy-mbql=true`."""
    if not (is_mbql4(tree_query) and is_mbql5(raw.get("dataset_query"))):
        return raw
    legacy = raw.get("legacy_query")
    if isinstance(legacy, str) and legacy:
        query = orjson.loads(legacy)
    else:
        query = api.get(f"{endpoint}/{raw['id']}", params={"legacy-mbql": "true"}).get("dataset_query")
    return {**raw, "dataset_query": query} if is_mbql4(query) else raw


# ---- Alerts before 0.54: the pulse shape of /api/alert (api/alert.clj of 0.50-0.53) ----
CRON = "notification-subscription/cron"
USER = "notification-recipient/user"
RAW = "notification-recipient/raw-value"
PULSE_CHANNELS = {"channel/email": "email", "channel/slack": "slack"}  # the handlers /api/alert has channels for


def notification_of_alert(alert: dict[str, Any]) -> dict[str, Any]:
    """A pre-0.54 alert (pulse shape) as the card notification Metabase's 0.54 migration makes of it: goal and
    above/below become `send_condition`, each channel a handler (its users and addresses recipients, a Slack channel a
    raw value), the channels' schedules cron subscriptions. The hydrated card and webhook channel stay with it."""
    if alert.get("alert_condition") == "goal":
        condition = "goal_above" if alert.get("alert_above_goal") else "goal_below"
    else:
        condition = "has_result"
    handlers = []
    for ch in alert.get("channels") or []:
        values = [r["email"] for r in ch.get("recipients") or [] if r.get("id") is None and r.get("email")]
        if ch.get("channel_type") == "slack" and (ch.get("details") or {}).get("channel"):
            values.append(ch["details"]["channel"])
        handlers.append({
            "channel_type": f"channel/{ch['channel_type']}", "active": bool(ch.get("enabled")),
            "channel_id": ch.get("channel_id"), **{k: ch[k] for k in ("channel", "channel_name") if k in ch},
            "recipients": [{"type": USER, "user_id": r["id"]} for r in ch.get("recipients") or [] if r.get("id") is not None]
            + [{"type": RAW, "details": {"value": v}} for v in values]})
    card = alert.get("card") or {}
    crons = sorted({schedule_to_cron(ch) for ch in alert.get("channels") or []})
    return {"id": alert["id"], "created_at": alert.get("created_at"), "payload_type": "notification/card",
            "active": not alert.get("archived"),
            "payload": {"card_id": card.get("id"), "card": card, "send_condition": condition,
                        "send_once": bool(alert.get("alert_first_only"))},
            "subscriptions": [{"type": CRON, "cron_schedule": c, "ui_display_type": "cron/builder"} for c in crons],
            "handlers": handlers}


def alert_problems(doc: dict[str, Any]) -> list[str]:
    """What a pulse-shaped alert cannot hold of an alert doc (empty: it converts without loss but the ids)."""
    problems = []
    crons = [s.get("cron_schedule") for s in doc.get("subscriptions") or []]
    if len(crons) != 1:
        problems.append(f"it has {len(crons)} schedules; /api/alert keeps exactly one")
    elif cron_to_schedule(crons[0]) is None:
        problems.append(f"its schedule {crons[0]!r} is no hourly, daily, weekly or monthly one at a full hour")
    for h in doc.get("handlers") or []:
        if h.get("channel_type") not in PULSE_CHANNELS:
            problems.append(f"its {h.get('channel_type')} handler ({h.get('channel') or 'no channel'}) has no "
                            "/api/alert channel (email and Slack only)")
        if any("group" in r or "template" in r for r in h.get("recipients") or []):
            problems.append("it sends to a group or a template; /api/alert sends to users and addresses only")
    return problems


def pulse_alert_body(payload: dict[str, Any]) -> dict[str, Any]:
    """A notification body as the pulse-shaped alert of /api/alert: `notification_of_alert` read backwards."""
    inner = payload["payload"]
    condition = inner.get("send_condition") or "has_result"
    schedule = cron_to_schedule(next(iter(s.get("cron_schedule") for s in payload["subscriptions"]), None)) or {}
    channels = []
    for h in payload["handlers"]:
        ctype = PULSE_CHANNELS.get(h["channel_type"], h["channel_type"])
        users = [{"id": r["user_id"]} for r in h.get("recipients") or [] if r.get("type") == USER]
        values = [(r.get("details") or {}).get("value") for r in h.get("recipients") or [] if r.get("type") == RAW]
        channel = {"channel_type": ctype, "enabled": h.get("active", True) is not False, **schedule,
                   "recipients": users + [{"email": v} for v in values] if ctype == "email" else []}
        if ctype == "slack":
            channel["details"] = {"channel": values[0] if values else None}
        channels.append(channel)
    return {"alert_condition": "rows" if condition == "has_result" else "goal",
            "alert_above_goal": {"goal_above": True, "goal_below": False}.get(condition),
            "alert_first_only": bool(inner.get("send_once")),
            "card": {"id": inner["card_id"], "include_csv": False, "include_xls": False},
            "channels": channels, "archived": payload.get("active") is False}
