"""Notifications (card alerts since 0.54, system events): the Notification model's validation, writes and reads."""

from __future__ import annotations

from .. import errors, events
from ..store import Row, State

CARD = "notification/card"



SYSTEM_EVENT = "notification/system-event"



RECIPIENT_USER = "notification-recipient/user"



RECIPIENT_GROUP = "notification-recipient/group"



RECIPIENT_RAW = "notification-recipient/raw-value"



RECIPIENT_TEMPLATE = "notification-recipient/template"



CRON = "notification-subscription/cron"



EVENT = "notification-subscription/system-event"



IMMUTABLE = ("payload_type", "payload_id", "creator_id")



SEND_CONDITIONS = ("has_result", "goal_above", "goal_below")



TABLES = ("notification", "notification_card", "notification_subscription", "notification_handler",
          "notification_recipient", "channel_template")



def init_state(state: State) -> None:
    """Metabase seeds system-event notifications; the user-invited email is the one every instance has."""
    if state.table("notification").rows:
        return
    now = state.now()
    template = state.table("channel_template").insert({
        "name": "User joined Email template", "description": None, "channel_type": "channel/email",
        "details": {"type": "email/handlebars-resource", "subject": "You're invited to join {{payload.custom.company}}'s {{context.application_name}}",
                    "path": "metabase/channel/email/new_user_invite.hbs", "recipient-type": "cc"},
    }, now=now)
    notification = state.table("notification").insert({
        "payload_type": SYSTEM_EVENT, "payload_id": None, "active": True, "creator_id": None,
        "internal_id": "system-event/user-invited",
    }, now=now)
    state.table("notification_subscription").insert({
        "notification_id": notification["id"], "type": EVENT, "event_name": "event/user-invited",
        "cron_schedule": None, "ui_display_type": None, "created_at": now,
    })
    handler = state.table("notification_handler").insert({
        "notification_id": notification["id"], "channel_type": "channel/email", "channel_id": None,
        "template_id": template["id"], "active": True,
    }, now=now)
    state.table("notification_recipient").insert({
        "notification_handler_id": handler["id"], "type": RECIPIENT_TEMPLATE, "user_id": None,
        "permissions_group_id": None, "details": {"pattern": "{{payload.event_info.object.email}}", "is_optional": False},
    }, now=now)



def _invalid(key: str, text: str) -> errors.ApiError:
    return errors.invalid({key: text}, {key: [text]})



def _check_subscription(sub: dict) -> None:
    if sub.get("type") == CRON and not isinstance(sub.get("cron_schedule"), str):
        raise _invalid("subscriptions", "cron subscriptions need a cron_schedule string")
    if sub.get("type") == EVENT and sub.get("event_name") is None:
        raise _invalid("subscriptions", "system-event subscriptions need an event_name")



def _check_recipient(state: State, r: dict) -> None:
    kind = r.get("type")
    if kind == RECIPIENT_USER:
        ok = isinstance(r.get("user_id"), int) and r.get("permissions_group_id") is None and not r.get("details")
    elif kind == RECIPIENT_GROUP:
        ok = isinstance(r.get("permissions_group_id"), int) and r.get("user_id") is None and not r.get("details")
    elif kind == RECIPIENT_RAW:
        ok = isinstance(r.get("details"), dict) and set(r["details"]) == {"value"}
    else:
        ok = isinstance(r.get("details"), dict) and isinstance(r["details"].get("pattern"), str)
    if not ok:
        raise _invalid("handlers", f"invalid {kind} recipient")
    # Recipients reference users and groups by foreign key.
    if kind == RECIPIENT_USER and state.table("user").get(r["user_id"]) is None:
        raise errors.server_error(f"User {r['user_id']} does not exist (violates foreign key constraint)")
    if kind == RECIPIENT_GROUP and state.table("permissions_group").get(r["permissions_group_id"]) is None:
        raise errors.server_error(f"Group {r['permissions_group_id']} does not exist (violates foreign key constraint)")



def _check_handler(state: State, handler: dict) -> None:
    ctype = handler.get("channel_type")
    if not (isinstance(ctype, str) and ctype.startswith("channel/") and len(ctype) > len("channel/")):
        raise _invalid("handlers", "channel_type must be a channel/ namespaced keyword, e.g. channel/email")
    if handler.get("channel_id") is not None and state.table("channel").get(handler["channel_id"]) is None:
        raise errors.server_error(f"Channel {handler['channel_id']} does not exist (violates foreign key constraint)")
    for r in handler.get("recipients") or []:
        _check_recipient(state, r)



def check_body(state: State, body: dict) -> None:
    if body["payload_type"] == CARD:
        payload = body.get("payload")
        if not isinstance(payload, dict):
            raise _invalid("payload", "missing required key")
        card_id = payload.get("card_id")
        if not (isinstance(card_id, int) and not isinstance(card_id, bool) and card_id > 0):
            raise _invalid("payload", "card_id: value must be an integer greater than zero.")
        if payload.get("send_condition") not in (None, *SEND_CONDITIONS):
            raise _invalid("payload", "send_condition: should be either goal_below, has_result or goal_above")
        if payload.get("send_once") is not None and not isinstance(payload["send_once"], bool):
            raise _invalid("payload", "send_once: should be a boolean")
        if state.table("card").get(card_id) is None:
            raise errors.not_found()
    for sub in body.get("subscriptions") or []:
        _check_subscription(sub)
    for handler in body.get("handlers") or []:
        _check_handler(state, handler)



def insert_subscription(state: State, notification_id: int, sub: dict) -> None:
    state.table("notification_subscription").insert({
        "notification_id": notification_id, "type": sub["type"], "cron_schedule": sub.get("cron_schedule"),
        "event_name": sub.get("event_name"), "ui_display_type": sub.get("ui_display_type"), "created_at": state.now(),
    })



def _recipient_values(r: dict) -> dict:
    return {"type": r["type"], "user_id": r.get("user_id"), "permissions_group_id": r.get("permissions_group_id"),
            "details": r.get("details")}



def _handler_values(h: dict) -> dict:
    return {"channel_type": h["channel_type"], "channel_id": h.get("channel_id"), "template_id": h.get("template_id"),
            "active": h["active"] if h.get("active") is not None else True}



def insert_handler(state: State, notification_id: int, handler: dict) -> None:
    now = state.now()
    row = state.table("notification_handler").insert({"notification_id": notification_id, **_handler_values(handler)},
                                                     now=now)
    for r in handler.get("recipients") or []:
        state.table("notification_recipient").insert({"notification_handler_id": row["id"], **_recipient_values(r)},
                                                     now=now)



def _sync_rows(table, existing: list[Row], items: list[dict], update, create) -> None:
    """Metabase's spec-update: items with a known id update their row, the others are created, the rest deleted."""
    by_id = {row["id"]: row for row in existing}
    for item in items:
        row = by_id.pop(item.get("id"), None) if isinstance(item.get("id"), int) else None
        if row is None:
            create(item)
        else:
            update(row, item)
    for row in by_id.values():
        table.delete(row["id"])



def _delete_handler(state: State, handler_id: int) -> None:
    recipients = state.table("notification_recipient")
    for r in recipients.where(notification_handler_id=handler_id):
        recipients.delete(r["id"])
    state.table("notification_handler").delete(handler_id)



@events.on("card.alerts_broken")
def delete_card_notifications(state: State, card_id: int) -> None:
    """Delete a card's *active* alerts with their rows (notification/card `delete-card-notifications-and-notify!`,
    which reads `models.notification/notifications-for-card`: `:active true` only, so paused alerts survive)."""
    payloads = {p["id"] for p in state.table("notification_card").where(card_id=card_id)}
    doomed = state.table("notification").where(lambda n: n["payload_type"] == CARD and n["active"]
                                               and n["payload_id"] in payloads)
    for notification in doomed:
        for handler in state.table("notification_handler").where(notification_id=notification["id"]):
            _delete_handler(state, handler["id"])
        for sub in state.table("notification_subscription").where(notification_id=notification["id"]):
            state.table("notification_subscription").delete(sub["id"])
        state.table("notification").delete(notification["id"])
        state.table("notification_card").delete(notification["payload_id"])



def update_notification(state: State, notification: Row, body: dict) -> None:
    now = state.now()
    nid = notification["id"]
    if body.get("active") is not None:
        notification["active"] = body["active"]
    notification["updated_at"] = now
    payload = body.get("payload")
    if notification["payload_type"] == CARD and isinstance(payload, dict):
        card_row = state.table("notification_card").existing(notification["payload_id"])
        card_row.update({k: payload[k] for k in ("card_id", "send_condition", "send_once") if k in payload},
                        updated_at=now)
    if body.get("subscriptions") is not None:
        subs = state.table("notification_subscription")

        def update_sub(row, item):
            row.update({k: item.get(k) for k in ("type", "cron_schedule", "event_name", "ui_display_type")})

        _sync_rows(subs, subs.where(notification_id=nid), body["subscriptions"], update_sub,
                   lambda item: insert_subscription(state, nid, item))
    if body.get("handlers") is not None:
        handlers = state.table("notification_handler")
        recipients = state.table("notification_recipient")

        def update_handler(row, item):
            row.update(_handler_values(item), updated_at=now)
            if item.get("recipients") is not None:
                _sync_rows(recipients, recipients.where(notification_handler_id=row["id"]), item["recipients"],
                           lambda r, i: r.update(_recipient_values(i), updated_at=now),
                           lambda i: recipients.insert({"notification_handler_id": row["id"], **_recipient_values(i)},
                                                       now=now))

        existing = handlers.where(notification_id=nid)
        kept = {h["id"] for h in body["handlers"] if isinstance(h.get("id"), int)}
        for gone in existing:
            if gone["id"] not in kept:
                _delete_handler(state, gone["id"])
        _sync_rows(handlers, [h for h in existing if h["id"] in kept], body["handlers"], update_handler,
                   lambda item: insert_handler(state, nid, item))



def recipient_user_ids(state: State, notification_id: int) -> set[int]:
    handler_ids = {h["id"] for h in state.table("notification_handler").where(notification_id=notification_id)}
    return {r["user_id"] for r in state.table("notification_recipient").where(
        lambda r: r["notification_handler_id"] in handler_ids and r["user_id"] is not None)}



def can_read(state: State, user: Row, notification: Row) -> bool:
    """Admins, the creator and the recipients read a notification."""
    uid = user["id"]
    return (bool(user.get("is_superuser")) or notification["creator_id"] == uid
            or uid in recipient_user_ids(state, notification["id"]))



def find_notifications(state: State, user: Row, *, creator_id=None, recipient_id=None, creator_or_recipient_id=None,
                       card_id=None, payload_type=None, active: bool | None = True) -> list[Row]:
    """Readable notifications matching every given filter, in id order (GET /api/notification)."""

    def matches(n: Row) -> bool:
        if active is not None and n["active"] != active:
            return False
        if payload_type and n["payload_type"] != payload_type:
            return False
        if creator_id is not None and n["creator_id"] != creator_id:
            return False
        if recipient_id is not None and recipient_id not in recipient_user_ids(state, n["id"]):
            return False
        if creator_or_recipient_id is not None and not (
                n["creator_id"] == creator_or_recipient_id
                or creator_or_recipient_id in recipient_user_ids(state, n["id"])):
            return False
        if card_id is not None:
            payload = state.table("notification_card").get(n["payload_id"]) if n["payload_type"] == CARD else None
            if payload is None or payload["card_id"] != card_id:
                return False
        return can_read(state, user, n)

    return state.table("notification").where(matches)



def get_notification_row(state: State, notification_id: int) -> Row:
    notification = state.table("notification").get(notification_id)
    if notification is None:
        raise errors.not_found()
    return notification



def unsubscribe_user(state: State, user: Row, notification_id: int) -> None:
    """Remove the user's recipient rows; 403 unless they are a recipient."""
    notification = get_notification_row(state, notification_id)
    if user["id"] not in recipient_user_ids(state, notification["id"]):
        raise errors.forbidden()
    handler_ids = {h["id"] for h in state.table("notification_handler").where(notification_id=notification["id"])}
    table = state.table("notification_recipient")
    for r in table.where(lambda r: r["notification_handler_id"] in handler_ids, user_id=user["id"]):
        table.delete(r["id"])



def create_notification(state: State, user: Row, body: dict) -> Row:
    """POST /api/notification: a card alert (anyone) or another payload type (admins only), with its rows."""
    check_body(state, body)
    if not user.get("is_superuser") and body["payload_type"] != CARD:
        raise errors.forbidden()
    now = state.now()
    payload_id = None
    if body["payload_type"] == CARD:
        payload = body["payload"]
        payload_id = state.table("notification_card").insert({
            "card_id": payload["card_id"], "send_condition": payload.get("send_condition") or "has_result",
            "send_once": bool(payload.get("send_once")),
        }, now=now)["id"]
    notification = state.table("notification").insert({
        "payload_type": body["payload_type"], "payload_id": payload_id,
        "active": body["active"] if body.get("active") is not None else True,
        "creator_id": user["id"], "internal_id": None,
    }, now=now)
    for sub in body.get("subscriptions") or []:
        insert_subscription(state, notification["id"], sub)
    for handler in body.get("handlers") or []:
        insert_handler(state, notification["id"], handler)
    return notification


def update(state: State, user: Row, notification_id: int, body: dict) -> Row:
    """PUT /api/notification/{id}: admins and the creator; the payload type, payload and creator stay."""
    notification = get_notification_row(state, notification_id)
    if not (user.get("is_superuser") or notification["creator_id"] == user["id"]):
        raise errors.forbidden()
    for key in IMMUTABLE:
        if key in body and body[key] != notification[key]:
            raise errors.ApiError(400, {"message": f"Update {key} is not allowed."})
    check_body(state, body)
    update_notification(state, notification, body)
    return notification
