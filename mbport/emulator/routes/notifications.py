"""Notifications (card alerts since 0.54, system events): /api/notification."""

from __future__ import annotations

from .. import errors
from ..app import NO_CONTENT, Ctx
from ..models import notifications as model
from ..router import route
from ..shapes.notifications import hydrate_notification

NOTIFICATIONS = lambda profile: profile.notifications  # noqa: E731 - /api/notification arrived with 0.54


@route("GET", "/api/notification", available=NOTIFICATIONS)
def list_notifications(ctx: Ctx):
    q = ctx.query
    found = model.find_notifications(
        ctx.state, ctx.user, creator_id=q.get("creator_id"), recipient_id=q.get("recipient_id"),
        creator_or_recipient_id=q.get("creator_or_recipient_id"), card_id=q.get("card_id"),
        payload_type=q.get("payload_type"), active=None if q.get("include_inactive") is True else True)
    return [hydrate_notification(ctx.state, n) for n in found]


@route("POST", "/api/notification", available=NOTIFICATIONS)
def create_notification(ctx: Ctx):
    return hydrate_notification(ctx.state, model.create_notification(ctx.state, ctx.user, ctx.body or {}))


@route("GET", "/api/notification/{id}", available=NOTIFICATIONS)
def get_notification(ctx: Ctx, id: int):
    notification = model.get_notification_row(ctx.state, id)
    if not model.can_read(ctx.state, ctx.user, notification):
        raise errors.forbidden()
    return hydrate_notification(ctx.state, notification)


@route("PUT", "/api/notification/{id}", available=NOTIFICATIONS)
def update_notification(ctx: Ctx, id: int):
    return hydrate_notification(ctx.state, model.update(ctx.state, ctx.user, id, ctx.body or {}))


@route("POST", "/api/notification/{id}/unsubscribe", available=NOTIFICATIONS)
def unsubscribe(ctx: Ctx, id: int):
    model.unsubscribe_user(ctx.state, ctx.user, id)
    return NO_CONTENT
