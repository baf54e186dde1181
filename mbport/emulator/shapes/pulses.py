"""What pulse answers look like: the pulse with its cards, channels and recipients (external addresses kept apart)."""

from __future__ import annotations

from ..models.pulses import ALERT_COLUMNS, can_write
from ..store import Row, State
from .users import creator


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



def hydrate_pulse(state: State, user: Row, pulse: Row) -> dict:
    """GET /api/pulse/{id}: the pulse without its alert columns, with creator, cards, channels and can_write."""
    channels = sorted(state.table("pulse_channel").where(pulse_id=pulse["id"]), key=lambda c: c["id"])
    out = {k: v for k, v in pulse.items() if k not in ALERT_COLUMNS}
    out.update(creator=creator(state, pulse["creator_id"]), cards=_cards_out(state, pulse["id"]),
               channels=[_channel_out(state, c) for c in channels], can_write=can_write(user, pulse))
    return out


def hydrate_alert(state: State, user: Row, alert: Row) -> dict:
    """An alert before 0.54 (`pulse/retrieve-alert` then `pulse->alert`): the pulse row with its one card as
    `card`, its channels with recipients, the creator and can_write."""
    channels = sorted(state.table("pulse_channel").where(pulse_id=alert["id"]), key=lambda c: c["id"])
    cards = _cards_out(state, alert["id"])
    out = dict(alert)
    out.update(creator=creator(state, alert["creator_id"]), card=cards[0] if cards else None,
               channels=[_channel_out(state, c) for c in channels], can_write=can_write(user, alert))
    return out
