"""Dashboard subscriptions (pulses): /api/pulse. Alerts live in notifications.py since 0.54."""

from __future__ import annotations

from .. import errors
from ..app import NO_CONTENT, Ctx
from ..models import collections
from ..models import pulses as model
from ..models.collections import maybe_reconcile_collection_position
from ..router import route
from ..shapes.pulses import hydrate_pulse
from ..store import Row

# ---- validation of request pieces ----


# ---- writes ----


# ---- reads ----


# ---- routes ----

@route("GET", "/api/pulse")
def list_pulses(ctx: Ctx):
    state = ctx.state
    archived = bool(ctx.query.get("archived"))
    dashboard_id = ctx.query.get("dashboard_id")
    mine = bool(ctx.query.get("creator_or_recipient"))

    def visible(p: Row) -> bool:
        if p.get("alert_condition") is not None or bool(p["archived"]) != archived:
            return False
        if p["dashboard_id"] is not None:
            dashboard = state.table("dashboard").get(p["dashboard_id"])
            if dashboard is None or dashboard.get("archived"):
                return False
        if dashboard_id is not None and p["dashboard_id"] != dashboard_id:
            return False
        if mine:
            # Only dashboard subscriptions, so legacy pulses stay off the user's notification page.
            return p["dashboard_id"] is not None and model.can_read(state, ctx.user, p) and (
                p["creator_id"] == ctx.user["id"] or model.is_recipient(state, p, ctx.user["id"]))
        return model.can_write(ctx.user, p)

    pulses = sorted(state.table("pulse").where(visible), key=lambda p: p["name"].lower())
    out = []
    for p in pulses:
        item = hydrate_pulse(ctx.state, ctx.user, p)
        # Download permissions are not modelled: every reader may download in full.
        item["cards"] = [{**c, "download_perms": "full"} for c in item["cards"]]
        out.append(item)
    return out


@route("POST", "/api/pulse")
def create_pulse(ctx: Ctx):
    state = ctx.state
    body = ctx.body or {}
    if not body["name"].strip():
        raise errors.invalid({"name": "value must be a non-blank string."})
    refs = model.card_refs(body.get("cards"))
    model.check_channels_list(body.get("channels"))
    dashboard_id, collection_id = body.get("dashboard_id"), body.get("collection_id")
    if dashboard_id is not None:
        dashboard = state.table("dashboard").get(dashboard_id)
        if dashboard is None:
            raise errors.not_found()
        # A dashboard subscription always lives in its dashboard's collection.
        collection_id = dashboard.get("collection_id")
    model.check_collection(state, collection_id)
    # Subscribing needs read access to the dashboard; a legacy pulse needs write access to its collection.
    collections.check_access(ctx.state, ctx.user, collection_id, write=dashboard_id is None)
    model.check_parameters(body.get("parameters"))
    model.check_cards_readable(state, refs, dashboard_id)
    prepared = model.prepare_channels(state, body["channels"])
    # create-pulse-with-perm-checks!: a new pin shifts the collection's pins at and after it.
    maybe_reconcile_collection_position(
        state, None, {"collection_id": collection_id, "collection_position": body.get("collection_position")})
    pulse = state.table("pulse").insert({
        "name": body["name"], "creator_id": ctx.user["id"], "skip_if_empty": bool(body.get("skip_if_empty")),
        "collection_id": collection_id, "collection_position": body.get("collection_position"),
        "dashboard_id": dashboard_id, "parameters": body.get("parameters") or [], "archived": False,
        "disable_links": False, "alert_condition": None, "alert_first_only": None, "alert_above_goal": None,
    }, now=state.now())
    model.write_cards(state, pulse["id"], refs)
    model.write_channels(state, pulse["id"], prepared)
    return hydrate_pulse(ctx.state, ctx.user, pulse)


@route("GET", "/api/pulse/form_input")
def form_input(ctx: Ctx):
    channels = {k: dict(v) for k, v in model.FORM_INPUT_CHANNELS.items()}
    channels["email"]["configured"] = bool(ctx.state.settings.get("email-smtp-host"))
    channels["slack"]["configured"] = bool(ctx.state.settings.get("slack-app-token"))
    channels["http"]["configured"] = bool(ctx.state.table("channel").first(type="channel/http", active=True))
    return {"channels": channels}


@route("GET", "/api/pulse/{id}")
def get_pulse(ctx: Ctx, id: int):
    pulse = model.get_pulse(ctx.state, id)
    if not model.can_read(ctx.state, ctx.user, pulse):
        raise errors.forbidden()
    return hydrate_pulse(ctx.state, ctx.user, pulse)


@route("PUT", "/api/pulse/{id}")
def update_pulse(ctx: Ctx, id: int):
    state = ctx.state
    pulse = model.get_pulse(state, id)
    if not model.can_write(ctx.user, pulse):
        raise errors.forbidden()
    body = ctx.body or {}
    if body.get("name") is not None and not body["name"].strip():
        raise errors.invalid({"name": "nullable value must be a non-blank string."})
    refs = model.card_refs(body["cards"]) if body.get("cards") is not None else None
    if body.get("channels") is not None:
        model.check_channels_list(body["channels"])
    if refs is not None:
        model.check_cards_readable(state, refs, pulse["dashboard_id"])
    if "collection_id" in body and body["collection_id"] != pulse["collection_id"]:
        if pulse["dashboard_id"] is not None:
            raise errors.server_error("collection ID of a dashboard subscription cannot be directly modified")
        model.check_collection(state, body["collection_id"])
    if body.get("parameters") is not None:
        model.check_parameters(body["parameters"])
    prepared = model.prepare_channels(state, body["channels"]) if body.get("channels") is not None else None

    # The spec's defaults are filled in before the handler runs: omitted archived/skip_if_empty become false.
    changes = {"archived": bool(body.get("archived")), "skip_if_empty": bool(body.get("skip_if_empty"))}
    changes.update({k: body[k] for k in ("collection_id", "collection_position") if k in body})
    changes.update({k: body[k] for k in ("name", "parameters") if body.get(k) is not None})
    if changes["archived"] != pulse["archived"]:
        for channel in state.table("pulse_channel").where(pulse_id=id):
            channel["enabled"] = not changes["archived"]
    maybe_reconcile_collection_position(state, pulse, {k: body[k] for k in ("collection_id", "collection_position")
                                                       if k in body})
    pulse.update(changes, updated_at=state.now())
    if refs is not None:
        model.write_cards(state, id, refs)
    if prepared is not None:
        model.write_channels(state, id, prepared)
    return hydrate_pulse(ctx.state, ctx.user, pulse)


@route("DELETE", "/api/pulse/{id}/subscription")
def unsubscribe(ctx: Ctx, id: int):
    state = ctx.state
    pulse = model.get_pulse(state, id)
    channel = state.table("pulse_channel").first(pulse_id=pulse["id"], channel_type="email")
    row = channel and state.table("pulse_channel_recipient").first(pulse_channel_id=channel["id"], user_id=ctx.user["id"])
    if not row:
        raise errors.not_found()
    state.table("pulse_channel_recipient").delete(row["id"])
    return NO_CONTENT
