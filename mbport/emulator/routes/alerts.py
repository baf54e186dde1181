"""Alerts: /api/alert. Before 0.54 the alert API itself (pulses with an alert_condition, full CRUD); since 0.54 a
read-only, pulse-shaped view of card notifications."""

from __future__ import annotations

from .. import errors
from ..app import NO_CONTENT, Ctx
from ..models import notifications as notif
from ..models import pulses
from ..router import route
from ..shapes.notifications import hydrate_notification, notification_to_alert
from ..shapes.pulses import hydrate_alert

PULSE_ALERTS = lambda profile: not profile.notifications  # noqa: E731 - the writes went with 0.54 (api-changelog)


@route("GET", "/api/alert")
def list_alerts(ctx: Ctx):
    # `user_id` only narrows the list for admins; everyone else always gets their own alerts.
    user_id = ctx.query.get("user_id") if ctx.is_superuser else ctx.user["id"]
    if not ctx.state.profile.notifications:
        rows = pulses.alert_rows(ctx.state, archived=bool(ctx.query.get("archived")), user=ctx.user, user_id=user_id)
        return [hydrate_alert(ctx.state, ctx.user, a) for a in rows]
    found = notif.find_notifications(ctx.state, ctx.user, payload_type=notif.CARD, creator_or_recipient_id=user_id,
                                     active=not ctx.query.get("archived"))
    return [notification_to_alert(ctx.state, hydrate_notification(ctx.state, n)) for n in found]


@route("GET", "/api/alert/{id}")
def get_alert(ctx: Ctx, id: int):
    if not ctx.state.profile.notifications:
        alert = pulses.get_valid_alert(ctx.state, id)
        if not pulses.can_read(ctx.state, ctx.user, alert):
            raise errors.forbidden()
        return hydrate_alert(ctx.state, ctx.user, alert)
    notification = notif.get_notification_row(ctx.state, id)
    if not notif.can_read(ctx.state, ctx.user, notification):
        raise errors.forbidden()
    return notification_to_alert(ctx.state, hydrate_notification(ctx.state, notification))


@route("POST", "/api/alert", available=PULSE_ALERTS)
def create_alert(ctx: Ctx):
    return hydrate_alert(ctx.state, ctx.user, pulses.create_alert(ctx.state, ctx.user, ctx.body or {}))


@route("PUT", "/api/alert/{id}", available=PULSE_ALERTS)
def update_alert(ctx: Ctx, id: int):
    return hydrate_alert(ctx.state, ctx.user, pulses.update_alert(ctx.state, ctx.user, id, ctx.body or {}))


@route("DELETE", "/api/alert/{id}/subscription")
def unsubscribe(ctx: Ctx, id: int):
    if not ctx.state.profile.notifications:
        alert = pulses.get_valid_alert(ctx.state, id)
        channel = ctx.state.table("pulse_channel").first(pulse_id=alert["id"], channel_type="email")
        row = channel and ctx.state.table("pulse_channel_recipient").first(pulse_channel_id=channel["id"],
                                                                           user_id=ctx.user["id"])
        if not row:
            raise errors.not_found()
        ctx.state.table("pulse_channel_recipient").delete(row["id"])
        return NO_CONTENT
    notif.unsubscribe_user(ctx.state, ctx.user, id)
    return NO_CONTENT
