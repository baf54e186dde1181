"""Dashboard subscriptions (and legacy pulses), keyed by entity_id: cards, channels, schedules and recipients."""

from __future__ import annotations

from typing import Any

import orjson

from mbport.api import (FALSY, CollectionCascade, DiagnoseContext, ExportContext, Kind, Match,
                        OrderedPositions, PartOf, Phase, WriteRequest, channel_doc, common, copy, custom,
                        each, flag, in_exported_collection, is_ref, listed_once, name_channels, present, ref,
                        resolved_channel, reuse_ids, skip, walk, with_channel_ids)

CARD_FLAGS = ("include_csv", "include_xls", "format_rows", "pivot_results")
SCHEDULE_FIELDS = ("schedule_type", "schedule_hour", "schedule_day", "schedule_frame")
# A `cards[]` item: the card (and, in a subscription, its dashcard) with the attachment flags.
CARD = {
    "id": ref("cards", as_="card"), "dashboard_card_id": ref("dashcards", as_="dashcard"),
    "include_csv": copy(send=flag), "include_xls": copy(send=flag),
    "format_rows": copy(send=present), "pivot_results": copy(send=present),
    **{k: skip("hydrated from the card") for k in ("name", "description", "collection_id", "display")},
    "dashboard_id": skip("hydrated from the dashcard"), "parameter_mappings": skip("always null on pulse cards"),
    "download_perms": skip("the reading user's permission"),
    "entity_id": skip("pulse cards are rewritten on every update"), "position": skip("kept as the list order"),
}
# A channel's recipient: a user (by ref) or a plain email address.
RECIPIENT = {
    "id": ref("users", as_="user", send=present),
    "email": copy(read=lambda r: None if r.get("id") is not None else r.get("email") or None, send=present),
    **{k: skip("hydrated from the user") for k in ("first_name", "last_name", "common_name")},
}
# A `channels[]` item: type, schedule, details and recipients; an http channel's webhook by name.
CHANNEL = {
    **common("created_at", "updated_at"),
    "id": skip("instance-specific id"), "entity_id": skip("channels are matched by type on update"),
    "pulse_id": skip("the channel sits inside its pulse's doc"),
    "channel_type": copy(), "enabled": copy(send=flag), **{k: copy() for k in SCHEDULE_FIELDS},
    "details": copy(read=lambda c: {k: v for k, v in (c.get("details") or {}).items() if k != "emails"
                                    and v is not None} or None, send=lambda value, doc: dict(value or {})),
    "channel_id": custom("becomes the `channel` ref (a name without the channels kind)"),
    "channel_name": copy(as_="channel", read=lambda c: c.get("channel_name") if c.get("channel_id") is not None
                         else None, send_as="_channel", send=present),  # a webhook: looked up by name on the target
    "recipients": each(RECIPIENT, default=[], more=lambda doc, raw, ctx: doc or None,
                       sort=lambda r: (0, r["user"]["$ref"]) if "user" in r else (1, r["email"].lower())),
}


def _channel_more(doc: dict[str, Any], raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any]:
    """A webhook channel the channels kind exported is a ref; without that kind it is kept by name (as in trees from
    before it), and one that no longer exists keeps a name that says so (and a warning)."""
    if raw.get("channel_id") is not None:
        doc["channel"] = channel_doc(raw, ctx)
    return doc


class Pulses(OrderedPositions, CollectionCascade, PartOf, Kind):
    """Dashboard subscriptions, active and archived.

    `list` reads `GET /api/pulse` and `?archived=true` (alerts are not pulses since 0.54, see the alerts
    kind), keeping those whose dashboard (or collection) is exported; it names webhook channels (one extra
    request, only when some are used). `normalize` turns the dashboard, collection, cards and dashcards into
    refs (dashcards through the dashboards kind's index), keeps the card order, sorts channels by type and
    recipients users first, then addresses. An http channel's `channel_id` becomes a ref to the channels kind.

    Import: matched by entity_id, then (dashboard, name). `create` POSTs (then PUTs `archived`, which POST
    cannot set); `update` PUTs with both `archived` and `skip_if_empty` (omitted means false) and reuses the ids
    of the target's channels of the same type. Dashcard refs need the dashboard's layout written first.
    """

    name = "pulses"
    archived_with_it = False  # the collection's archive sets `archived` on each: the doc's own flag goes on last
    endpoint = "/api/pulse"
    part_of = ("dashboard",)  # Metabase deletes a dashboard's subscriptions with it (and on archiving)
    positions = {"collection_position": "collection"}  # pins: set last by the engine, never in `payload`
    after = ("users", "collections", "dashboards", "channels")  # channels: the webhooks' names
    after_listing = ("dashboards",)  # their ids only (`_exported`): listed, not their details
    fields = {
        **common("created_at", "updated_at", "can_write", "is_remote_synced"),
        "id": skip("instance-specific id; the key is entity_id"),
        "entity_id": copy(), "name": copy(),
        # PUT writes an omitted archived/skip_if_empty as false, so both are always sent.
        "skip_if_empty": copy(send=flag), "archived": copy(send=flag),
        "collection_position": copy(default=FALSY, send=False),  # a pin: set last (`positions`)
        "disable_links": copy(default=FALSY, send=False),
        # A subscription lives in its dashboard, a legacy pulse in its collection: `payload` sends one of them.
        "dashboard_id": ref("dashboards", as_="dashboard", send=False),
        "collection_id": ref("collections", as_="collection", container=True, send=False),
        "parameters": walk("parameters", default=FALSY),
        "cards": each(CARD),
        "channels": each(CHANNEL, more=_channel_more, sort=lambda c: (c["channel_type"], orjson.dumps(
            c, option=orjson.OPT_SORT_KEYS))),
        "creator_id": skip("audit"), "creator": skip("hydrated user"),
        **{k: skip("alerts are the alerts kind") for k in ("alert_condition", "alert_first_only", "alert_above_goal")},
    }
    match = Match("name", within="dashboard")

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        rows = sorted((r for r in listed_once(api, self.endpoint, {}, {"archived": "true"}) if _exported(r, ctx)),
                      key=lambda r: r["id"])
        name_channels(api, [c for r in rows for c in r.get("channels") or []], ctx.raw.get("channels"))
        return rows

    # ---- import: by entity_id, then (dashboard, name); channels matched by type so PUT updates them ----
    def diagnose(self, doc: dict[str, Any], phase: Phase, ctx: DiagnoseContext):
        """What Metabase would not keep: a subscription of an archived dashboard (archiving a dashboard deletes its
        subscriptions, and no list shows one made later), or a live one whose filter values name a parameter the
        dashboard lacks (`handle-broken-subscriptions` archives it on the dashboard's next save)."""
        if phase != Phase.TREE:
            return []
        dashboard = ctx.docs.get(doc["dashboard"]["$ref"]) if is_ref(doc.get("dashboard")) else None
        if dashboard is None:
            return []
        if dashboard.get("archived"):
            return ["its dashboard is archived: Metabase deletes a dashboard's subscriptions when it archives it and "
                    "lists none of an archived dashboard's, so the target could not keep this one; remove it"]
        have = {p.get("id") for p in dashboard.get("parameters") or []}
        gone = sorted(str(p.get("id")) for p in doc.get("parameters") or [] if p.get("id") not in have)
        if gone and not doc.get("archived"):
            return [f"its filter values name {', '.join(gone)}, which the dashboard does not have: Metabase archives "
                    "such a subscription when the dashboard is saved; remove those values or archive it"]
        return []

    def payload(self, doc, resolve, stage):
        """The `/api/pulse` body; webhook channels stay names (`_channel`) until create/update look them up."""
        body = self.spec.payload(doc, resolve)
        body["channels"] = [resolved_channel(c, resolve) for c in body.get("channels") or []]
        if doc.get("dashboard") is not None:
            body["dashboard_id"] = resolve(doc["dashboard"])
        else:  # a legacy pulse lives in its own collection; a subscription in its dashboard's
            body["collection_id"] = resolve(doc.get("collection"))
        return body

    def create(self, req: WriteRequest) -> dict[str, Any]:
        body = {k: v for k, v in req.payload.items() if k != "archived"}
        body["channels"] = _named_channels(req.api, req.payload["channels"], [])
        raw = req.api.post(self.endpoint, json=body)
        if req.payload["archived"]:  # POST cannot create an archived pulse: archive it right away
            raw = req.api.put(f"{self.endpoint}/{raw['id']}", json=self._put_body(req.api, req.payload, req.doc, raw))
        return raw

    def update(self, req: WriteRequest) -> dict[str, Any]:
        current = req.target.find(self.name, req.target_id) or {"channels": []}
        return req.api.put(f"{self.endpoint}/{req.target_id}", json=self._put_body(req.api, req.payload, req.doc, current))

    def write_position(self, req: WriteRequest) -> None:
        """PUT writes an omitted archived/skip_if_empty as false: both go along with the pin."""
        flags = {"archived": bool(req.doc.get("archived")), "skip_if_empty": bool(req.doc.get("skip_if_empty"))}
        req.api.put(f"{self.endpoint}/{req.target_id}", json={**req.payload, **flags})

    def _put_body(self, api, payload: dict[str, Any], doc: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
        # A subscription's dashboard and collection cannot change through PUT; they are never sent.
        body = {k: v for k, v in payload.items() if k not in ("dashboard_id", "collection_id")}
        if "collection_id" in payload and payload["collection_id"] != current.get("collection_id"):
            body["collection_id"] = payload["collection_id"]
        body["channels"] = _named_channels(api, payload["channels"], current.get("channels") or [])
        return body


def _exported(raw: dict[str, Any], ctx: ExportContext) -> bool:
    """A subscription goes with its dashboard: one on a dashboard this export leaves out (personal) stays out."""
    dashboards = ctx.raw.get("dashboards")
    if raw.get("dashboard_id") is not None and dashboards is not None:
        return raw["dashboard_id"] in {d["id"] for d in dashboards}
    return in_exported_collection(raw, ctx)


def _named_channels(api, channels: list[dict[str, Any]], existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Channel bodies with their target `channel_id`s, each given the `id` of an existing channel of the same type
    (and webhook), so PUT updates channels in place instead of recreating them."""
    return reuse_ids(with_channel_ids(api, channels), existing, lambda c: (c.get("channel_type"), c.get("channel_id")))
