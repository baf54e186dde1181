"""Dashboard subscriptions (pulses): /api/pulse. Alerts live in notifications.py since 0.54."""

from __future__ import annotations

from typing import Any

from .. import errors, events
from ..app import NO_CONTENT, Ctx
from ..models.collections import maybe_reconcile_collection_position
from ..router import route
from ..shapes.users import creator
from ..store import Row, State
from .timelines import check_collection_access

CHANNEL_TYPES = ("email", "slack", "http")
SCHEDULE_TYPES = ("hourly", "daily", "weekly", "monthly")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FRAMES = ("first", "mid", "last")
ALERT_COLUMNS = ("alert_condition", "alert_first_only", "alert_above_goal")
CARD_REF_RULE = "value must be a map with the keys `id`, `include_csv`, `include_xls`, and `dashboard_card_id`."
WRONG_NAMESPACE = 'A Pulse can only go in Collections in the "default" or :analytics namespace.'
BAD_PARAMETERS = ":parameters must be a sequence of maps with String :id keys"

FORM_INPUT_CHANNELS = {
    "email": {"type": "email", "name": "Email", "allows_recipients": True, "recipients": ["user", "email"],
              "schedules": list(SCHEDULE_TYPES)},
    "slack": {"type": "slack", "name": "Slack", "allows_recipients": False, "schedules": list(SCHEDULE_TYPES),
              "fields": [{"name": "channel", "type": "select", "displayName": "Post to", "options": [],
                          "required": True}]},
    "http": {"type": "http", "name": "Webhook", "allows_recipients": False, "schedules": list(SCHEDULE_TYPES)},
}


def _assert(ok: bool, form: str) -> None:
    """Metabase checks channels with :pre assertions, so a bad channel is a 500, not a 400."""
    if not ok:
        raise errors.server_error(f"Assert failed: {form}")


# ---- validation of request pieces ----

def _card_refs(cards: Any, field: str = "cards") -> list[dict]:
    """CardRefs as Metabase's card->ref builds them; 400 when the list or an item does not fit the schema."""
    def is_bool(v):
        return isinstance(v, bool)

    def fits(c):
        return (isinstance(c, dict) and is_bool(c.get("include_csv")) and is_bool(c.get("include_xls"))
                and all(c.get(k) is None or is_bool(c[k]) for k in ("format_rows", "pivot_results"))
                and (c.get("dashboard_card_id") is None or isinstance(c["dashboard_card_id"], int)))

    if not isinstance(cards, list) or not cards or not all(fits(c) for c in cards):
        text = f"one or more {CARD_REF_RULE}"
        raise errors.invalid({field: text}, {field: [CARD_REF_RULE]})
    refs = []
    for c in cards:
        _assert(isinstance(c.get("id"), int) and not isinstance(c.get("id"), bool), "(integer? card-id)")
        refs.append({"id": c["id"], "include_csv": c["include_csv"], "include_xls": c["include_xls"],
                     "format_rows": c["format_rows"] if c.get("format_rows") is not None else True,
                     "pivot_results": bool(c.get("pivot_results")), "dashboard_card_id": c.get("dashboard_card_id")})
    return refs


def _check_channels_list(channels: Any) -> None:
    if not isinstance(channels, list) or not channels or not all(isinstance(c, dict) for c in channels):
        raise errors.invalid({"channels": "one or more map"}, {"channels": ["one or more map"]})


def _check_cards_readable(state: State, refs: list[dict], dashboard_id: int | None) -> None:
    for ref in refs:
        if state.table("card").get(ref["id"]) is None:
            raise errors.not_found()
        dashcard_id = ref["dashboard_card_id"]
        if dashcard_id is not None:
            dashcard = state.table("dashboardcard").get(dashcard_id)
            # A dangling id is a foreign-key violation in Metabase's database; one from another dashboard is an
            # import that forgot to remap dashcard ids, which the emulator refuses the same way.
            if dashcard is None or dashcard.get("dashboard_id") != dashboard_id:
                raise errors.server_error(
                    f"dashboard_card_id {dashcard_id} is not a dashcard of dashboard {dashboard_id} "
                    "(violates foreign key constraint fk_pulse_card_ref_dashboard_card_id)")


def _check_parameters(parameters: Any) -> None:
    if parameters is None:
        return
    ok = isinstance(parameters, list) and all(
        isinstance(p, dict) and isinstance(p.get("id"), str) and p["id"].strip() for p in parameters)
    if not ok:
        raise errors.server_error(BAD_PARAMETERS)


def _check_collection(state: State, collection_id: int | None) -> None:
    if collection_id is None:
        return
    coll = state.table("collection").get(collection_id)
    if coll is None:
        raise errors.not_found()
    if coll.get("namespace") not in (None, "analytics"):
        raise errors.checkp("collection_id", WRONG_NAMESPACE)


def _valid_schedule(stype: str, hour: Any, day: Any, frame: Any) -> bool:
    hour_ok = isinstance(hour, int) and not isinstance(hour, bool) and 0 <= hour <= 23
    if stype == "hourly":
        return True
    if stype == "daily":
        return hour_ok
    if stype == "weekly":
        return hour_ok and day in DAYS
    return (stype == "monthly" and frame in FRAMES and hour_ok
            and (frame in ("first", "last") or day is None))


def _channel_values(state: State, channel: dict) -> tuple[dict, list[int] | None]:
    """The PulseChannel columns for a channel item and its user recipients (None: type keeps no recipients)."""
    ctype, stype, enabled = channel.get("channel_type"), channel.get("schedule_type"), channel.get("enabled")
    hour, day, frame = channel.get("schedule_hour"), channel.get("schedule_day"), channel.get("schedule_frame")
    recipients = channel.get("recipients") or []
    _assert(ctype in CHANNEL_TYPES, "(channel-type? channel_type)")
    _assert(isinstance(enabled, bool), "(boolean? enabled)")
    _assert(stype in SCHEDULE_TYPES, "(schedule-type? schedule_type)")
    _assert(_valid_schedule(stype, hour, day, frame),
            "(valid-schedule? schedule_type schedule_hour schedule_day schedule_frame)")
    _assert(isinstance(recipients, list) and all(isinstance(r, dict) for r in recipients), "(every? map? recipients)")
    user_ids, emails = [], []
    for r in recipients:
        if r.get("id") is not None:
            user = state.table("user").get(r["id"])
            if user is None:
                raise errors.ApiError(404, f"User {r['id']} does not exist.")
            if r.get("email") and r["email"] != user["email"]:
                raise errors.ApiError(403, f"Wrong email address for User {r['id']}.")
            if user["id"] not in user_ids:
                user_ids.append(user["id"])
        elif r.get("email"):
            emails.append(r["email"])
    details = dict(channel.get("details") or {})
    keeps_recipients = ctype == "email"
    if keeps_recipients:
        # External addresses live in details.emails, which Metabase never returns.
        details["emails"] = emails or None
    values = {
        "channel_type": ctype, "details": details, "enabled": enabled, "schedule_type": stype,
        "schedule_hour": hour if stype != "hourly" else None,
        "schedule_day": day if stype in ("weekly", "monthly") else None,
        "schedule_frame": frame if stype == "monthly" else None,
    }
    return values, user_ids if keeps_recipients else None


# ---- writes ----

def _write_cards(state: State, pulse_id: int, refs: list[dict]) -> None:
    table = state.table("pulse_card")
    for old in table.where(pulse_id=pulse_id):
        table.delete(old["id"])
    for position, ref in enumerate(refs):
        table.insert({"pulse_id": pulse_id, "card_id": ref["id"], "position": position,
                      "include_csv": ref["include_csv"], "include_xls": ref["include_xls"],
                      "format_rows": ref["format_rows"], "pivot_results": ref["pivot_results"],
                      "dashboard_card_id": ref["dashboard_card_id"]})


def _set_recipients(state: State, channel_id: int, user_ids: list[int] | None) -> None:
    table = state.table("pulse_channel_recipient")
    wanted = user_ids or []
    for row in table.where(pulse_channel_id=channel_id):
        if row["user_id"] not in wanted:
            table.delete(row["id"])
    present = {r["user_id"] for r in table.where(pulse_channel_id=channel_id)}
    for uid in wanted:
        if uid not in present:
            table.insert({"pulse_channel_id": channel_id, "user_id": uid})


def _write_channels(state: State, pulse_id: int, prepared: list[tuple[dict, dict, list[int] | None]]) -> None:
    """Create, update and delete PulseChannels to match the list: by `id`, else by `channel_type`."""
    table = state.table("pulse_channel")
    existing = table.where(pulse_id=pulse_id)
    unmatched = {c["id"]: c for c in existing}
    now = state.now()
    for item, values, user_ids in prepared:
        target = unmatched.pop(item["id"], None) if isinstance(item.get("id"), int) else None
        if target is None and item.get("id") is None:
            target = next((c for c in unmatched.values() if c["channel_type"] == values["channel_type"]), None)
            if target is not None:
                unmatched.pop(target["id"])
        if target is None:
            target = table.insert({"pulse_id": pulse_id, "channel_id": item.get("channel_id"), **values}, now=now)
        else:
            target.update(values, updated_at=now)
        _set_recipients(state, target["id"], user_ids)
    for stale in unmatched.values():
        _set_recipients(state, stale["id"], None)
        table.delete(stale["id"])


def _prepare_channels(state: State, channels: list[dict]) -> list[tuple[dict, dict, list[int] | None]]:
    return [(c, *_channel_values(state, c)) for c in channels]


def remove_recipient(state: State, user_id: int) -> None:
    """Drop a user from every subscription's recipients (Metabase does this when a user is deactivated)."""
    table = state.table("pulse_channel_recipient")
    for row in table.where(user_id=user_id):
        table.delete(row["id"])



@events.on("user.deactivated")
def _user_deactivated(state: State, user: Row) -> None:
    remove_recipient(state, user["id"])


# ---- reads ----

def _user_recipient(user: Row) -> dict:
    return {k: user.get(k) for k in ("id", "email", "first_name", "last_name", "common_name")}


def _channel_out(state: State, channel: Row) -> dict:
    details = {k: v for k, v in (channel.get("details") or {}).items() if k != "emails"}
    users_table = state.table("user")
    members = [users_table.get(r["user_id"]) for r in state.table("pulse_channel_recipient").where(
        pulse_channel_id=channel["id"])]
    recipients = [{"email": e} for e in (channel.get("details") or {}).get("emails") or []]
    recipients += [_user_recipient(u) for u in members if u and u.get("is_active")]
    return {**channel, "details": details, "recipients": recipients}


def _cards_out(state: State, pulse_id: int) -> list[dict]:
    out = []
    for pc in sorted(state.table("pulse_card").where(pulse_id=pulse_id), key=lambda r: r["position"]):
        card = state.table("card").get(pc["card_id"])
        if card is None or card.get("archived"):
            continue
        dashcard = state.table("dashboardcard").get(pc["dashboard_card_id"]) if pc["dashboard_card_id"] else None
        out.append({
            "id": card["id"], "name": card.get("name"), "description": card.get("description"),
            "collection_id": card.get("collection_id"), "display": card.get("display"),
            "include_csv": pc["include_csv"], "include_xls": pc["include_xls"], "format_rows": pc["format_rows"],
            "pivot_results": pc["pivot_results"], "dashboard_card_id": pc["dashboard_card_id"],
            "dashboard_id": dashcard.get("dashboard_id") if dashcard else None, "parameter_mappings": None,
        })
    return out


def _is_recipient(state: State, pulse: Row, user_id: int) -> bool:
    channel_ids = {c["id"] for c in state.table("pulse_channel").where(pulse_id=pulse["id"])}
    return any(r["pulse_channel_id"] in channel_ids for r in state.table("pulse_channel_recipient").where(user_id=user_id))


def _can_read(ctx: Ctx, pulse: Row) -> bool:
    return ctx.is_superuser or pulse["creator_id"] == ctx.user["id"] or _is_recipient(ctx.state, pulse, ctx.user["id"])


def _can_write(ctx: Ctx, pulse: Row) -> bool:
    return ctx.is_superuser or pulse["creator_id"] == ctx.user["id"]


def hydrate_pulse(ctx: Ctx, pulse: Row) -> dict:
    state = ctx.state
    channels = sorted(state.table("pulse_channel").where(pulse_id=pulse["id"]), key=lambda c: c["id"])
    out = {k: v for k, v in pulse.items() if k not in ALERT_COLUMNS}
    out.update(creator=creator(state, pulse["creator_id"]), cards=_cards_out(state, pulse["id"]),
               channels=[_channel_out(state, c) for c in channels], can_write=_can_write(ctx, pulse))
    return out


def _get_pulse(state: State, pulse_id: int) -> Row:
    pulse = state.table("pulse").get(pulse_id)
    if pulse is None:
        raise errors.not_found()
    return pulse


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
            return p["dashboard_id"] is not None and _can_read(ctx, p) and (
                p["creator_id"] == ctx.user["id"] or _is_recipient(state, p, ctx.user["id"]))
        return _can_write(ctx, p)

    pulses = sorted(state.table("pulse").where(visible), key=lambda p: p["name"].lower())
    out = []
    for p in pulses:
        item = hydrate_pulse(ctx, p)
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
    refs = _card_refs(body.get("cards"))
    _check_channels_list(body.get("channels"))
    dashboard_id, collection_id = body.get("dashboard_id"), body.get("collection_id")
    if dashboard_id is not None:
        dashboard = state.table("dashboard").get(dashboard_id)
        if dashboard is None:
            raise errors.not_found()
        # A dashboard subscription always lives in its dashboard's collection.
        collection_id = dashboard.get("collection_id")
    _check_collection(state, collection_id)
    # Subscribing needs read access to the dashboard; a legacy pulse needs write access to its collection.
    check_collection_access(ctx, collection_id, write=dashboard_id is None)
    _check_parameters(body.get("parameters"))
    _check_cards_readable(state, refs, dashboard_id)
    prepared = _prepare_channels(state, body["channels"])
    # create-pulse-with-perm-checks!: a new pin shifts the collection's pins at and after it.
    maybe_reconcile_collection_position(
        state, None, {"collection_id": collection_id, "collection_position": body.get("collection_position")})
    pulse = state.table("pulse").insert({
        "name": body["name"], "creator_id": ctx.user["id"], "skip_if_empty": bool(body.get("skip_if_empty")),
        "collection_id": collection_id, "collection_position": body.get("collection_position"),
        "dashboard_id": dashboard_id, "parameters": body.get("parameters") or [], "archived": False,
        "disable_links": False, "alert_condition": None, "alert_first_only": None, "alert_above_goal": None,
    }, now=state.now())
    _write_cards(state, pulse["id"], refs)
    _write_channels(state, pulse["id"], prepared)
    return hydrate_pulse(ctx, pulse)


@route("GET", "/api/pulse/form_input")
def form_input(ctx: Ctx):
    channels = {k: dict(v) for k, v in FORM_INPUT_CHANNELS.items()}
    channels["email"]["configured"] = bool(ctx.state.settings.get("email-smtp-host"))
    channels["slack"]["configured"] = bool(ctx.state.settings.get("slack-app-token"))
    channels["http"]["configured"] = bool(ctx.state.table("channel").first(type="channel/http", active=True))
    return {"channels": channels}


@route("GET", "/api/pulse/{id}")
def get_pulse(ctx: Ctx, id: int):
    pulse = _get_pulse(ctx.state, id)
    if not _can_read(ctx, pulse):
        raise errors.forbidden()
    return hydrate_pulse(ctx, pulse)


@route("PUT", "/api/pulse/{id}")
def update_pulse(ctx: Ctx, id: int):
    state = ctx.state
    pulse = _get_pulse(state, id)
    if not _can_write(ctx, pulse):
        raise errors.forbidden()
    body = ctx.body or {}
    if body.get("name") is not None and not body["name"].strip():
        raise errors.invalid({"name": "nullable value must be a non-blank string."})
    refs = _card_refs(body["cards"]) if body.get("cards") is not None else None
    if body.get("channels") is not None:
        _check_channels_list(body["channels"])
    if refs is not None:
        _check_cards_readable(state, refs, pulse["dashboard_id"])
    if "collection_id" in body and body["collection_id"] != pulse["collection_id"]:
        if pulse["dashboard_id"] is not None:
            raise errors.server_error("collection ID of a dashboard subscription cannot be directly modified")
        _check_collection(state, body["collection_id"])
    if body.get("parameters") is not None:
        _check_parameters(body["parameters"])
    prepared = _prepare_channels(state, body["channels"]) if body.get("channels") is not None else None

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
        _write_cards(state, id, refs)
    if prepared is not None:
        _write_channels(state, id, prepared)
    return hydrate_pulse(ctx, pulse)


@route("DELETE", "/api/pulse/{id}/subscription")
def unsubscribe(ctx: Ctx, id: int):
    state = ctx.state
    pulse = _get_pulse(state, id)
    channel = state.table("pulse_channel").first(pulse_id=pulse["id"], channel_type="email")
    row = channel and state.table("pulse_channel_recipient").first(pulse_channel_id=channel["id"], user_id=ctx.user["id"])
    if not row:
        raise errors.not_found()
    state.table("pulse_channel_recipient").delete(row["id"])
    return NO_CONTENT
