"""Alerts (card notifications), keyed by (card, ordinal) since notifications have no entity_id."""

from __future__ import annotations

import builtins
from collections import defaultdict
from typing import Any

import orjson

from mbport.api import (
    ExportContext,
    Kind,
    MatchesByCode,
    MbportError,
    OrdersWrites,
    PartOf,
    PathHint,
    Phase,
    Requires,
    StagedWrites,
    Unreferenced,
    VersionNotes,
    WriteRequest,
    address,
    archive_order,
    canonical_cron,
    channel_ids_by_name,
    channel_names,
    common,
    copy,
    cron_to_schedule,
    custom,
    each,
    flag,
    is_ref,
    listed_once,
    one,
    present,
    ref,
    schedule_to_cron,
    skip,
    slugify,
    split_address,
)

CRON = "notification-subscription/cron"
USER = "notification-recipient/user"
GROUP = "notification-recipient/group"
RAW = "notification-recipient/raw-value"
TEMPLATE = "notification-recipient/template"
NOTIFICATIONS_SINCE = (0, 54)


def _sorted_by(*first: str):
    """A sort key: the `first` fields, then the whole (canonical JSON) content: no server id decides."""
    return lambda x: (*(str(x.get(f) or "") for f in first), orjson.dumps(x, option=orjson.OPT_SORT_KEYS))


# The notification's nested objects (>= 0.54); a pre-0.54 alert's `channels` become the same doc (`_from_legacy_alert`).
PAYLOAD = {
    **common("created_at", "updated_at"),
    "id": skip("instance-specific id"), "card": skip("hydrated copy of the card"),
    "card_id": ref("cards", as_="card"),
    "send_condition": copy(read=lambda p: p.get("send_condition") or "has_result",
                           send=lambda value, doc: value or "has_result"),
    "send_once": copy(read=lambda p: bool(p.get("send_once")), send=flag),
}
SUBSCRIPTION = {
    **common("created_at", "updated_at"),
    "id": skip("instance-specific id"), "notification_id": skip("the subscription sits inside its alert"),
    **{k: copy(send=present) for k in ("type", "cron_schedule", "event_name", "ui_display_type")},
}
RECIPIENT = {  # one of user, group, value (a raw address) or template
    **common("created_at", "updated_at"),
    "id": skip("instance-specific id"), "notification_handler_id": skip("the recipient sits inside its handler"),
    "type": custom("implied by the recipient's key (user, group, value, template)"),
    "user_id": ref("users", as_="user"), "permissions_group_id": ref("groups", as_="group"),
    "details": custom("kept as `value` (raw values) or `template`"), "user": skip("hydrated user"),
    "permissions_group": skip("hydrated group with its members"),
}


def _recipient_more(doc: dict[str, Any], raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any] | None:
    kind = raw.get("type")
    if kind == RAW:
        return {"value": (raw.get("details") or {}).get("value")}
    if kind == TEMPLATE:
        return {"template": raw.get("details") or {}}
    if kind in (USER, GROUP):
        return doc
    ctx.warnings.append(f"{ctx.current}: unknown recipient type {kind!r} left out")
    return None


def _handler_more(doc: dict[str, Any], raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any]:
    if raw.get("channel_id") is not None:
        doc["channel"] = _channel(raw, ctx)
    return doc


HANDLER = {
    **common("created_at", "updated_at"),
    "id": skip("instance-specific id"), "notification_id": skip("the handler sits inside its alert"),
    "channel_type": copy(),
    "active": copy(read=lambda h: h.get("active", True) is not False, send=lambda value, doc: value is not False),
    # A webhook channel is a ref to the channels kind (`_handler_more`; a name in trees from before it, looked up by
    # create/update), a template is kept by name.
    "channel_id": copy(as_="channel", read=lambda h: None if h.get("channel_id") is None else
                       (h.get("channel") or {}).get("name") or h.get("channel_name"), send_as="_channel", send=present),
    "channel": skip("hydrated channel; its name is kept"),
    "channel_name": skip("the channel's name, looked up by mbport at list time"),
    "template_id": skip("becomes the `template` name"),
    "template": copy(read=lambda h: None if h.get("template_id") is None else (h.get("template") or {}).get("name")
                     or f"missing-template-{h['template_id']}", send_as="_template", send=present),
    "recipients": each(RECIPIENT, more=_recipient_more, sort=_sorted_by(), send=False),  # `payload` sends them
}


class Alerts(StagedWrites, VersionNotes, Requires, OrdersWrites, PartOf, MatchesByCode, Unreferenced, Kind):
    """Card alerts, active and inactive.

    `list` reads `GET /api/notification?payload_type=notification/card&include_inactive=true` on >= 0.54 and
    the legacy pulse-shaped `GET /api/alert` (plus `?archived=true`) before; both become the same doc, so a
    0.53 export imports into a notification-era instance. Notifications have no entity_id, so `list` numbers
    each card's alerts in creation order (`ordinal`, from 1) and records the card's entity_id: the key is
    (card, ordinal). `normalize` turns card, users, groups and a handler's channel (webhooks) into refs.

    Import: matched by (card, ordinal); a card's alerts are created in ordinal order. `create` POSTs a
    notification; `update` PUTs it with the ids of the target's subscriptions, handlers and recipients reused;
    archiving is `active: false`. A target before 0.54 gets the pulse-shaped alert on `/api/alert` instead
    (`_legacy_body`): what that shape cannot hold (a cron schedule beyond hourly/daily/weekly/monthly, more than
    one schedule, group recipients, webhooks) is refused by plan, alert by alert, by name.
    """

    name = "alerts"
    part_of = ("payload.card",)  # an alert is deleted with its card
    endpoint = "/api/notification"
    after = ("cards", "users", "groups")
    fields = {
        **common("created_at", "updated_at", "can_write"),
        "active": copy(), "ordinal": copy(),
        "id": skip("instance-specific id; the key is (card, ordinal)"),
        "entity_id": skip("a pre-0.54 alert's pulse entity_id; notifications have none, so the key is (card, ordinal)"),
        "card_entity_id": skip("the card's key, recorded by mbport at list time; in the `payload.card` ref"),
        "payload_type": skip("always notification/card for alerts"),
        "payload_id": skip("instance-specific id of the payload row"),
        "payload": one(PAYLOAD),
        "subscriptions": each(SUBSCRIPTION, sort=_sorted_by("type", "cron_schedule")),
        "handlers": each(HANDLER, more=_handler_more, sort=_sorted_by("channel_type", "channel"), send=False),
        "creator_id": skip("audit"),
        "creator": skip("hydrated user"),
        "internal_id": skip("Metabase's own system notifications only"),
        "name": skip("always null on alerts"),
        "alert_condition": skip("becomes payload.send_condition"),
        "alert_above_goal": skip("becomes payload.send_condition"),
        "alert_first_only": skip("becomes payload.send_once"),
        "archived": skip("becomes `active`"),
        "card": skip("becomes the payload's card ref"),
        "channels": skip("become handlers and subscriptions"),
        "skip_if_empty": skip("always true on alerts"),
        "collection_id": skip("alerts live with their card"),
        "collection_position": skip("alerts live with their card"),
        "parameters": skip("always empty on alerts"),
        "dashboard_id": skip("always null on alerts"),
        "disable_links": skip("not carried over by Metabase's own alert migration"),
    }

    def list(self, api, ctx: ExportContext) -> list[dict[str, Any]]:
        if api.version >= NOTIFICATIONS_SINCE:
            rows = api.get(self.endpoint, params={"payload_type": "notification/card", "include_inactive": "true"})
            rows = [r for r in rows if r.get("payload_type") == "notification/card"]
        else:
            rows = listed_once(api, "/api/alert", {}, {"archived": "true"})
        cards = ctx.raw.get("cards")
        card_eids = {c.get("id"): c.get("entity_id") for c in cards or []}
        by_card: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for raw in rows:
            # An alert goes with its card: one on a card the export leaves out (personal) stays out.
            if cards is None or _card_id(raw) in card_eids:
                by_card[_card_id(raw)].append(raw)
        out = []
        for card_id, alerts in sorted(by_card.items(), key=lambda kv: str(kv[0])):
            hydrated = ((alerts[0].get("payload") or {}).get("card") or alerts[0].get("card") or {}).get("entity_id")
            eid = card_eids.get(card_id) or hydrated or f"missing-id-{card_id}"
            for n, raw in enumerate(sorted(alerts, key=lambda r: (str(r.get("created_at") or ""), r["id"])), 1):
                out.append({**raw, "card_entity_id": eid, "ordinal": n})
        unnamed = {h["channel_id"] for r in out for h in r.get("handlers") or r.get("channels") or []
                   if h.get("channel_id") is not None and not (h.get("channel") or {}).get("name")}
        if unnamed:  # inactive webhook channels are not hydrated on the handler
            names = channel_names(api, unnamed)
            for r in out:
                for h in r.get("handlers") or r.get("channels") or []:
                    if h.get("channel_id") in names:
                        h["channel_name"] = names[h["channel_id"]]
        return out

    def version_notes(self, version: Any) -> builtins.list[str]:
        """Called by `mbport doctor`: a release without notifications gets alerts in the older pulse shape."""
        if version < NOTIFICATIONS_SINCE:
            return ["alerts are written through /api/alert (< 0.54 has no /api/notification): an alert whose "
                    "schedule, recipients or channel that shape cannot hold is refused by plan, by name"]
        return []

    def comparable(self, doc):
        """Schedules compared by what they mean: a release before 0.54 gives a weekly alert's cron back in its own
        spelling (`0 0 9 ? * 2 *` for the tree's `0 0 9 ? * MON *`), which is no change to write."""
        out = super().comparable(doc)
        if out.get("subscriptions"):
            out["subscriptions"] = sorted(({**s, "cron_schedule": canonical_cron(s.get("cron_schedule"))}
                                           for s in out["subscriptions"]), key=_sorted_by("type", "cron_schedule"))
        return out

    def unheld(self, doc, docs, version):
        """Before 0.54, an alert on an archived card: 0.50 takes one (POST /api/alert read-checks the card, which an
        archived card passes) but never shows it (models/pulse.clj: `cards*` hydrates only unarchived cards and
        `retrieve-alerts` drops an alert without one; GET /api/alert/:id fails in `alert->card`), and archiving the
        card deletes an active one (`delete-alerts-if-needed!`): no import could find it again."""
        if version >= NOTIFICATIONS_SINCE:
            return None
        ref = (doc.get("payload") or {}).get("card")
        card = docs.get(ref["$ref"]) if is_ref(ref) else None
        if not (card or {}).get("archived"):
            return None
        return (f"its card is archived, and Metabase {version.tag} keeps no alert on an archived card in sight "
                "(GET /api/alert leaves it out; archiving the card deletes an active one)")

    def diagnose(self, doc, phase, ctx):
        """Plan, into a release before 0.54: what the pulse-shaped alert cannot hold, named after the alert."""
        if phase != Phase.PLAN or ctx.target is None or ctx.target.api.version >= NOTIFICATIONS_SINCE:
            return []
        name = self.label(doc, ctx.docs) or self.address_of(doc)
        return [f"alert {name!r}: {why} (Metabase {ctx.target.api.version.tag} keeps alerts on /api/alert)"
                for why in _legacy_problems(doc)]

    def key_parts(self, raw_or_doc: dict[str, Any]) -> tuple[Any, ...]:
        if "card_entity_id" in raw_or_doc:
            return raw_or_doc["card_entity_id"], raw_or_doc["ordinal"]
        card = raw_or_doc["payload"]["card"]["$ref"]
        return split_address(card)[1][0], raw_or_doc["ordinal"]

    def normalize_more(self, doc, raw, ctx: ExportContext):
        if "payload_type" in raw:
            doc["active"] = bool(raw.get("active"))
        else:
            doc.update(_from_legacy_alert(raw, ctx))
        return doc

    def path(self, doc, folders) -> PathHint:
        """`alerts/<the card's collection path>/<card name>/alert-<n>.json` (format 1 trees before this named the
        folder after the card's entity_id; the path is never read back, so both load)."""
        card_key, ordinal = self.key_parts(doc)
        card = folders.doc((doc.get("payload") or {}).get("card"))
        if card is None or not card.get("name"):
            return PathHint((slugify(card_key),), f"alert-{ordinal}")
        return PathHint((*folders.folder_of(card.get("collection")), slugify(card["name"])), f"alert-{ordinal}")

    def label(self, doc, docs=None):
        """Named by its card: "Revenue by month", or "Revenue by month #2" for a card's second alert."""
        card = (docs or {}).get(((doc.get("payload") or {}).get("card") or {}).get("$ref"))
        name = (card or {}).get("name") or ((doc.get("payload") or {}).get("card") or {}).get("name")
        if not name:
            return None
        return name if doc.get("ordinal") == 1 else f"{name} #{doc.get('ordinal')}"

    # ---- import (>= 0.54 targets): `POST`/`PUT /api/notification`, matched by (card, ordinal) ----

    def stage_refs(self, doc, stage):
        """Also the card's previous alert: alerts of one card are created in ordinal order, so the target numbers
        them the same way (the ordinal is the creation order)."""
        refs = super().stage_refs(doc, stage)
        card_key, ordinal = self.key_parts(doc)
        if isinstance(ordinal, int) and ordinal > 1:
            refs |= {address(self.name, card_key, ordinal - 1)}
        return refs

    def write_order(self, doc, docs):
        """Written after the archive of an archived collection its card sits in: archiving (or restoring) a
        collection deletes the active alerts of the cards in it (`maybe-send-archived-notifications!`). Archiving
        the card itself deletes them too (`delete-alerts-if-needed!`): the card ref orders that write first, and
        the pair below has an import that archives the card find the alert again afterwards."""
        ref = (doc.get("payload") or {}).get("card")
        card = docs.get(ref["$ref"]) or {} if is_ref(ref) else {}
        order = archive_order(self.address_of(doc), self.stages, docs, card.get("collection"), cascades_onto=False)
        if card.get("archived") and is_ref(ref):
            order.append(((ref["$ref"], "main"), (self.address_of(doc), self.stages[0])))
        return order

    def match_key(self, doc, resolve):
        return (resolve(doc["payload"]["card"]), doc["ordinal"])

    def raw_match_key(self, raw):
        return (_card_id(raw), raw.get("ordinal"))

    def payload(self, doc, resolve, stage):
        """The notification body; webhook channels and templates stay names until create/update look them up."""
        handler = self.spec.nested("handlers")
        return {
            "payload_type": "notification/card", "active": doc.get("active", True) is not False,
            **{k: v for k, v in self.spec.payload(doc, resolve).items() if k in ("payload", "subscriptions")},
            "handlers": [_resolved_channel({**handler.payload(h, resolve), "recipients": [
                _recipient_body(r, resolve) for r in h.get("recipients") or []]}, resolve)
                         for h in doc.get("handlers") or []],
        }

    def create(self, req: WriteRequest) -> dict[str, Any]:
        if req.api.version < NOTIFICATIONS_SINCE:
            return req.api.post("/api/alert", json=_legacy_body(req.payload))
        return req.api.post(self.endpoint, json=self._body(req.api, req.payload, req.doc, None))

    def update(self, req: WriteRequest) -> dict[str, Any]:
        if req.api.version < NOTIFICATIONS_SINCE:
            return req.api.put(f"/api/alert/{req.target_id}", json=_legacy_body(req.payload))
        current = req.target.find(self.name, req.target_id) or {}
        return req.api.put(f"{self.endpoint}/{req.target_id}", json=self._body(req.api, req.payload, req.doc, current))

    def archive(self, api, target_id):
        if api.version < NOTIFICATIONS_SINCE:
            api.put(f"/api/alert/{target_id}", json={"archived": True})
            return
        api.put(f"{self.endpoint}/{target_id}", json={"payload_type": "notification/card", "active": False})

    def _body(self, api, payload: dict[str, Any], doc: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        """Channel names → ids; on update each subscription, handler and recipient reuses the id of its
        counterpart on the target, so PUT edits them in place (items without an id are created, others deleted)."""
        names = {h["_channel"] for h in payload["handlers"] if h.get("_channel")}  # trees with channels by name
        by_name = channel_ids_by_name(api) if names else {}
        missing = sorted(names - set(by_name))
        if missing:
            raise MbportError(f"notification channel(s) {', '.join(map(repr, missing))} do "
                              "not exist on the target",
                              hint="create the webhook channel(s) under Admin > Notification channels, then import again")
        templates = sorted({h["_template"] for h in payload["handlers"] if h.get("_template")})
        if templates:
            raise MbportError(f"channel templates ({', '.join(map(repr, templates))}) cannot "
                              "be imported yet", hint="remove the template from the alert's handler in the tree")
        body = {k: v for k, v in payload.items() if k != "handlers"}
        handlers = []
        for h in payload["handlers"]:
            handler = {k: v for k, v in h.items() if not k.startswith("_")}
            if h.get("_channel") or "channel_id" not in handler:
                handler["channel_id"] = by_name.get(h.get("_channel"))
            handlers.append(handler)
        body["handlers"] = handlers
        if current is None:
            return body
        body["subscriptions"] = _reuse_ids(body["subscriptions"], current.get("subscriptions") or [],
                                           lambda s: (s.get("type"), s.get("cron_schedule"), s.get("event_name")))
        old_handlers = current.get("handlers") or []
        body["handlers"] = _reuse_ids(handlers, old_handlers, lambda h: (h.get("channel_type"), h.get("channel_id")))
        for handler in body["handlers"]:
            old = next((h for h in old_handlers if h.get("id") == handler.get("id")), None)
            if old is not None:
                handler["recipients"] = _reuse_ids(handler["recipients"], old.get("recipients") or [], _recipient_key)
        if (current.get("payload") or {}).get("id") is not None:
            body["payload"] = {**body["payload"], "id": current["payload"]["id"]}
        return body


def _resolved_channel(handler: dict[str, Any], resolve) -> dict[str, Any]:
    """A handler payload whose channel is a ref: its target id as `channel_id` (a name stays for `_body`)."""
    channel = handler.get("_channel")
    if not is_ref(channel):
        return handler
    return {**{k: v for k, v in handler.items() if k != "_channel"}, "channel_id": resolve(channel)}


# ---- alerts before 0.54: the pulse shape of /api/alert (api/alert.clj POST / and PUT /:id of 0.50) ----

LEGACY_CHANNELS = {"channel/email": "email", "channel/slack": "slack"}


def _legacy_problems(doc: dict[str, Any]) -> list[str]:
    """What a pulse-shaped alert cannot hold of this doc (empty: it converts without loss but the ids)."""
    problems = []
    crons = [s.get("cron_schedule") for s in doc.get("subscriptions") or []]
    if len(crons) != 1:
        problems.append(f"it has {len(crons)} schedules; /api/alert keeps exactly one")
    elif cron_to_schedule(crons[0]) is None:
        problems.append(f"its schedule {crons[0]!r} is no hourly, daily, weekly or monthly one at a full hour")
    for h in doc.get("handlers") or []:
        if h.get("channel_type") not in LEGACY_CHANNELS:
            problems.append(f"its {h.get('channel_type')} handler ({h.get('channel') or 'no channel'}) has no "
                            "/api/alert channel (email and Slack only)")
        for r in h.get("recipients") or []:
            if "group" in r or "template" in r:
                problems.append("it sends to a group or a template; /api/alert sends to users and addresses only")
                break
    return problems


def _legacy_body(payload: dict[str, Any]) -> dict[str, Any]:
    """A notification body (`Alerts.payload`) as the pulse-shaped alert of /api/alert: Metabase 0.54's migration
    read backwards (send_condition → alert_condition/alert_above_goal, each handler a channel on the schedule)."""
    inner = payload["payload"]
    condition = inner.get("send_condition") or "has_result"
    schedule = cron_to_schedule(next(iter(s.get("cron_schedule") for s in payload["subscriptions"]), None)) or {}
    channels = []
    for h in payload["handlers"]:
        ctype = LEGACY_CHANNELS.get(h["channel_type"], h["channel_type"])
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


def _recipient_body(r: dict[str, Any], resolve) -> dict[str, Any]:
    """A doc recipient as a notification recipient (user, group, raw value or template)."""
    if "user" in r:
        return {"type": USER, "user_id": resolve(r["user"])}
    if "group" in r:
        return {"type": GROUP, "permissions_group_id": resolve(r["group"])}
    if "value" in r:
        return {"type": RAW, "details": {"value": r["value"]}}
    return {"type": TEMPLATE, "details": r.get("template") or {}}


def _recipient_key(r: dict[str, Any]) -> tuple:
    details = r.get("details") or {}
    return (r.get("type"), r.get("user_id"), r.get("permissions_group_id"), orjson.dumps(details, option=orjson.OPT_SORT_KEYS))


def _reuse_ids(items: list[dict[str, Any]], existing: list[dict[str, Any]], key) -> list[dict[str, Any]]:
    """Items with the `id` of an existing row that has the same key (each existing row used once)."""
    free = list(existing)
    out = []
    for item in items:
        twin = next((e for e in free if key(e) == key(item)), None)
        if twin is None:  # same kind of row, different content: edit it rather than delete and recreate
            twin = next((e for e in free if key(e)[0] == key(item)[0]), None)
        if twin is not None:
            free.remove(twin)
            item = {**item, "id": twin["id"]}
        out.append(item)
    return out


def _card_id(raw: dict[str, Any]) -> Any:
    if "payload_type" in raw:
        return (raw.get("payload") or {}).get("card_id")
    return (raw.get("card") or {}).get("id")


def _channel(handler: dict[str, Any], ctx: ExportContext) -> Any:
    """A handler's webhook channel: a ref when the channels kind exported it, else (no channels kind, or a channel
    that no longer exists) its name, as trees written before channels were a kind hold it."""
    if ("channels", handler["channel_id"]) in ctx.index:
        return ctx.ref("channels", handler["channel_id"])
    return _channel_name(handler, ctx)


def _channel_name(handler: dict[str, Any], ctx: ExportContext) -> str:
    name = (handler.get("channel") or {}).get("name") or handler.get("channel_name")
    if not name:
        ctx.warnings.append(f"{ctx.current}: refers to notification channel id {handler['channel_id']}, "
                            "which does not exist")
        name = f"missing-channel-{handler['channel_id']}"
    return name


def _from_legacy_alert(raw: dict[str, Any], ctx: ExportContext) -> dict[str, Any]:
    """A pre-0.54 alert (pulse shape) as the notification it becomes, the way Metabase's 0.54 migration does."""
    if raw.get("alert_condition") == "goal":
        condition = "goal_above" if raw.get("alert_above_goal") else "goal_below"
    else:
        condition = "has_result"
    crons, handlers = set(), []
    for ch in raw.get("channels") or []:
        crons.add(schedule_to_cron(ch))
        recipients = []
        for r in ch.get("recipients") or []:
            if r.get("id") is not None:
                recipients.append({"user": ctx.ref("users", r["id"])})
            elif r.get("email"):
                recipients.append({"value": r["email"]})
        if ch.get("channel_type") == "slack" and (ch.get("details") or {}).get("channel"):
            recipients.append({"value": ch["details"]["channel"]})
        handler: dict[str, Any] = {"channel_type": f"channel/{ch['channel_type']}", "active": bool(ch.get("enabled"))}
        if ch.get("channel_id") is not None:
            handler["channel"] = _channel(ch, ctx)
        handler["recipients"] = sorted(recipients, key=_sorted_by())
        handlers.append(handler)
    return {
        "active": not raw.get("archived"),
        "payload": {"card": ctx.ref("cards", (raw.get("card") or {}).get("id")), "send_condition": condition,
                    "send_once": bool(raw.get("alert_first_only"))},
        "subscriptions": [{"type": CRON, "cron_schedule": c, "ui_display_type": "cron/builder"} for c in sorted(crons)],
        "handlers": sorted(handlers, key=_sorted_by("channel_type", "channel")),
    }
