"""Dashboard subscriptions (pulses): the Pulse model's checks (Metabase's :pre assertions), channels and recipients."""

from __future__ import annotations

from typing import Any

from .. import errors, events
from ..store import Row, State

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



def card_refs(cards: Any, field: str = "cards") -> list[dict]:
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



def check_channels_list(channels: Any) -> None:
    if not isinstance(channels, list) or not channels or not all(isinstance(c, dict) for c in channels):
        raise errors.invalid({"channels": "one or more map"}, {"channels": ["one or more map"]})



def check_cards_readable(state: State, refs: list[dict], dashboard_id: int | None) -> None:
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



def check_parameters(parameters: Any) -> None:
    if parameters is None:
        return
    ok = isinstance(parameters, list) and all(
        isinstance(p, dict) and isinstance(p.get("id"), str) and p["id"].strip() for p in parameters)
    if not ok:
        raise errors.server_error(BAD_PARAMETERS)



def check_collection(state: State, collection_id: int | None) -> None:
    if collection_id is None:
        return
    coll = state.table("collection").get(collection_id)
    if coll is None:
        raise errors.not_found()
    if coll.get("namespace") not in (None, "analytics"):
        raise errors.checkp("collection_id", WRONG_NAMESPACE)



def _valid_schedule(stype: Any, hour: Any, day: Any, frame: Any) -> bool:
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



def write_cards(state: State, pulse_id: int, refs: list[dict]) -> None:
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



def write_channels(state: State, pulse_id: int, prepared: list[tuple[dict, dict, list[int] | None]]) -> None:
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



def prepare_channels(state: State, channels: list[dict]) -> list[tuple[dict, dict, list[int] | None]]:
    return [(c, *_channel_values(state, c)) for c in channels]



def remove_recipient(state: State, user_id: int) -> None:
    """Drop a user from every subscription's recipients (Metabase does this when a user is deactivated)."""
    table = state.table("pulse_channel_recipient")
    for row in table.where(user_id=user_id):
        table.delete(row["id"])



@events.on("user.deactivated")
def _user_deactivated(state: State, user: Row) -> None:
    """users/models/user.clj `define-before-update :model/User`: `(when (false? active?) (t2/delete!
    'PulseChannelRecipient :user_id id))` — pulse recipients only: notification (alert) recipients stay, and only
    `DELETE /api/user/:id/subscriptions` removes those."""
    remove_recipient(state, user["id"])


@events.on("collection.deleting")
def _delete_along(state: State, collection_ids: set[int]) -> None:
    """Pulses in a collection deleted for good go with it, their cards, channels and recipients by the database's
    cascades (collections/models/collection.clj `define-before-delete :model/Collection`: `t2/delete!` of Card,
    Dashboard, NativeQuerySnippet, Pulse and Timeline in the collection and its descendants)."""
    for pulse in state.table("pulse").where(lambda p: p.get("collection_id") in collection_ids):
        for channel in state.table("pulse_channel").where(pulse_id=pulse["id"]):
            for recipient in state.table("pulse_channel_recipient").where(pulse_channel_id=channel["id"]):
                state.table("pulse_channel_recipient").delete(recipient["id"])
            state.table("pulse_channel").delete(channel["id"])
        for card in state.table("pulse_card").where(pulse_id=pulse["id"]):
            state.table("pulse_card").delete(card["id"])
        state.table("pulse").delete(pulse["id"])



def is_recipient(state: State, pulse: Row, user_id: int) -> bool:
    channel_ids = {c["id"] for c in state.table("pulse_channel").where(pulse_id=pulse["id"])}
    return any(r["pulse_channel_id"] in channel_ids for r in state.table("pulse_channel_recipient").where(user_id=user_id))



def can_read(state: State, user: Row, pulse: Row) -> bool:
    return bool(user.get("is_superuser")) or pulse["creator_id"] == user["id"] or is_recipient(state, pulse, user["id"])



def can_write(user: Row, pulse: Row) -> bool:
    return bool(user.get("is_superuser")) or pulse["creator_id"] == user["id"]



def get_pulse(state: State, pulse_id: int) -> Row:
    pulse = state.table("pulse").get(pulse_id)
    if pulse is None:
        raise errors.not_found()
    return pulse


# ---- alerts before 0.54: Pulse rows with alert_condition set, one card each (models/pulse.clj of 0.50) ----

ALERT_CONDITIONS = ("rows", "goal")


def has_card(state: State, alert: Row) -> bool:
    """Whether the alert's card hydrates: `cards*` (models/pulse.clj, 0.50) joins only cards with `archived =
    false` (`*allow-hydrate-archived-cards*` is bound only while the archive's emails are sent), so an alert on an
    archived card has no card. 0.50 takes such an alert (POST's `api/read-check Card` passes for an archived card,
    and archiving deletes only the active ones: `delete-alerts-if-needed!`) but then never shows it."""
    return any((card := state.table("card").get(pc["card_id"])) is not None and not card.get("archived")
               for pc in state.table("pulse_card").where(pulse_id=alert["id"]))


def alert_rows(state: State, *, archived: bool, user: Row, user_id: int | None) -> list[Row]:
    """`pulse/retrieve-alerts`: alerts in id order; `user_id` narrows them to its own or those it receives. An
    alert whose card does not hydrate (archived, see `has_card`) is left out: `:when (:card alert)`, "it's basically
    orphaned/invalid at this point" (models/pulse.clj, 0.50)."""
    def keep(p: Row) -> bool:
        if p.get("alert_condition") is None or bool(p["archived"]) != archived or not has_card(state, p):
            return False
        if user_id is not None and not (p["creator_id"] == user_id or is_recipient(state, p, user_id)):
            return False
        return can_read(state, user, p)

    return sorted(state.table("pulse").where(keep), key=lambda p: p["id"])


def get_alert(state: State, alert_id: int) -> Row:
    row = state.table("pulse").get(alert_id)
    if row is None or row.get("alert_condition") is None:
        raise errors.not_found()
    return row


INVALID_ALERT = "Invalid Alert: Alert does not have a Card associated with it"


def get_valid_alert(state: State, alert_id: int) -> Row:
    """An alert GET /:id, PUT /:id or DELETE /:id/subscription can act on (api/alert.clj, 0.50): one without a
    hydrated card (`has_card`) fails with a 500 — GET's and DELETE's `api/read-check` ask `mi/can-read?`, whose
    perms-objects-set throws from `alert->card` (models/pulse.clj); PUT `assert`s `(:card alert-before-update)`."""
    row = get_alert(state, alert_id)
    if not has_card(state, row):
        raise errors.server_error(INVALID_ALERT)
    return row


def create_alert(state: State, user: Row, body: dict) -> Row:
    """POST /api/alert: `create-alert!` — skip_if_empty true, no name or collection, the card's one PulseCard;
    `archived` when the body has it (`only-alert-keys` keeps it, though the schema does not declare it)."""
    refs = card_refs([body["card"]], "card")
    if state.table("card").get(refs[0]["id"]) is None:
        raise errors.not_found()
    prepared = prepare_channels(state, body["channels"])
    alert = state.table("pulse").insert({
        "name": None, "creator_id": user["id"], "skip_if_empty": True, "collection_id": None,
        "collection_position": None, "dashboard_id": None, "parameters": [], "archived": bool(body.get("archived")),
        "disable_links": None, "alert_condition": body["alert_condition"],
        "alert_first_only": body["alert_first_only"], "alert_above_goal": body.get("alert_above_goal"),
    }, now=state.now())
    write_cards(state, alert["id"], refs)
    write_channels(state, alert["id"], prepared)
    return alert


def update_alert(state: State, user: Row, alert_id: int, body: dict) -> Row:
    """PUT /api/alert/:id: `only-alert-keys` present in the body, the card and the channels when sent; channels
    without email recipients and without Slack archive the alert (api/alert.clj, 0.50)."""
    alert = get_valid_alert(state, alert_id)
    if not (user.get("is_superuser") or alert["creator_id"] == user["id"]):
        raise errors.forbidden()
    changes = {k: body[k] for k in ("alert_condition", "alert_first_only", "alert_above_goal", "archived")
               if k in body}
    refs = card_refs([body["card"]], "card") if body.get("card") is not None else None
    prepared = prepare_channels(state, body["channels"]) if body.get("channels") is not None else None
    if body.get("channels") is not None:
        email = next((c for c in body["channels"] if c.get("channel_type") == "email"), None)
        slack = any(c.get("channel_type") == "slack" for c in body["channels"])
        if not (email and email.get("recipients")) and not slack:
            changes["archived"] = True
    alert.update(changes, updated_at=state.now())
    if refs is not None:
        write_cards(state, alert_id, refs)
    if prepared is not None:
        write_channels(state, alert_id, prepared)
    return alert


@events.on("card.alerts_broken")
def _card_alerts_broken(state: State, card_id: int) -> None:
    """`delete-alerts-if-needed!` (api/card.clj, 0.50): archiving a card deletes its pulse-shaped alerts (those
    `retrieve-alerts-for-cards` finds: the unarchived ones)."""
    for pc in state.table("pulse_card").where(card_id=card_id):
        pulse = state.table("pulse").get(pc["pulse_id"])
        if pulse is not None and pulse.get("alert_condition") is not None and not pulse["archived"]:
            for channel in state.table("pulse_channel").where(pulse_id=pulse["id"]):
                _set_recipients(state, channel["id"], None)
                state.table("pulse_channel").delete(channel["id"])
            state.table("pulse_card").delete(pc["id"])
            state.table("pulse").delete(pulse["id"])
