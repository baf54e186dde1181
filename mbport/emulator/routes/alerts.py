"""Alerts: the read-only, legacy pulse-shaped view of card notifications (/api/alert, since 0.54)."""

from __future__ import annotations

from .. import errors
from ..app import NO_CONTENT, Ctx
from ..models import notifications as notif
from ..router import route
from ..shapes.notifications import hydrate_notification, notification_to_alert


@route("GET", "/api/alert")
def list_alerts(ctx: Ctx):
    # `user_id` only narrows the list for admins; everyone else always gets their own alerts.
    user_id = ctx.query.get("user_id") if ctx.is_superuser else ctx.user["id"]
    found = notif.find_notifications(ctx.state, ctx.user, payload_type=notif.CARD, creator_or_recipient_id=user_id,
                                     active=not ctx.query.get("archived"))
    return [notification_to_alert(ctx.state, hydrate_notification(ctx.state, n)) for n in found]


@route("GET", "/api/alert/{id}")
def get_alert(ctx: Ctx, id: int):
    notification = notif.get_notification_row(ctx.state, id)
    if not notif.can_read(ctx.state, ctx.user, notification):
        raise errors.forbidden()
    return notification_to_alert(ctx.state, hydrate_notification(ctx.state, notification))


@route("DELETE", "/api/alert/{id}/subscription")
def unsubscribe(ctx: Ctx, id: int):
    notif.unsubscribe_user(ctx.state, ctx.user, id)
    return NO_CONTENT
